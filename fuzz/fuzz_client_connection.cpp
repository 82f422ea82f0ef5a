// Fuzz target: a client Connection (two requests submitted at the start) fed
// arbitrary bytes as if from a server (half the inputs start with a valid
// SETTINGS), with output pulled and API calls made as the input says. See
// connection_fuzz.hpp for the input layout and the checks.
#include "connection_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    h2wire_fuzz::Driver(h2wire::Role::client, data, size).run();
    return 0;
}
