// The run-time version (include/h2wire/version.hpp).
#include "h2wire/version.hpp"

namespace h2wire {

std::string_view version() noexcept { return H2WIRE_VERSION_STRING; }

std::uint32_t version_number() noexcept { return H2WIRE_VERSION_NUMBER; }

}  // namespace h2wire
