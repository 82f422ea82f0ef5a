// Fuzz target: parse_priority() on arbitrary bytes, the whole input being one
// Priority field value.
//
// The value is parsed over three bases; the first two differ in every
// parameter.
// Invariants that abort when violated:
//   - whether the value is valid does not depend on the base;
//   - the urgency is never above 7;
//   - each parameter is either set by the value (the same over every base)
//     or left as each base had it;
//   - leading and trailing SP change nothing (RFC 8941 §4.2);
//   - what format_priority() writes for a result parses back to it (over
//     the default base, since it omits the defaults).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "h2wire/priority.hpp"

#include "fuzz_check.hpp"

namespace {


using h2wire::Priority;

constexpr Priority bases[] = {{0, false}, {7, true}, {3, false}};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A copy of exactly the input's size, so that ASan sees a read past it.
    const std::vector<char> copy(data, data + size);
    const std::string_view value(copy.data(), copy.size());

    std::optional<Priority> results[std::size(bases)];
    for (std::size_t b = 0; b < std::size(bases); ++b) {
        results[b] = h2wire::parse_priority(value, bases[b]);
        H2W_CHECK(results[b].has_value() == results[0].has_value());
        if (results[b]) H2W_CHECK(results[b]->urgency <= h2wire::max_urgency);
    }
    if (!results[0]) {
        H2W_CHECK(!h2wire::parse_priority(" " + std::string(value) + " "));
        return 0;
    }

    // bases[0] and bases[1] differ in both parameters, so a parameter that
    // comes back as each base had it was not set by the value.
    const Priority &a = *results[0], &b = *results[1], &c = *results[2];
    const bool urgency_set = !(a.urgency == bases[0].urgency && b.urgency == bases[1].urgency);
    const bool incremental_set = !(a.incremental == bases[0].incremental && b.incremental == bases[1].incremental);
    if (urgency_set) {
        H2W_CHECK(a.urgency == b.urgency && b.urgency == c.urgency);
    } else {
        H2W_CHECK(c.urgency == bases[2].urgency);
    }
    if (incremental_set) {
        H2W_CHECK(a.incremental == b.incremental && b.incremental == c.incremental);
    } else {
        H2W_CHECK(c.incremental == bases[2].incremental);
    }

    H2W_CHECK(h2wire::parse_priority(" " + std::string(value) + " ", bases[1]) == b);

    for (const Priority& p : {a, b, c}) {
        const h2wire::PriorityText text = h2wire::format_priority(p);
        H2W_CHECK(h2wire::parse_priority(text.view()) == p);  // defaults omitted: parsed over the defaults
    }
    return 0;
}
