// Fuzz target: a server Connection fed arbitrary bytes (half the inputs start
// with a valid client preface and SETTINGS), with output pulled and API calls
// made as the input says. See connection_fuzz.hpp for the input layout and
// the checks.
#include "connection_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    h2wire_fuzz::Driver(h2wire::Role::server, data, size).run();
    return 0;
}
