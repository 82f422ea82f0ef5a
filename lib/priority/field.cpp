// The Priority field value (RFC 9218 §4, §5): a Structured Field Dictionary
// (RFC 8941 §3.2, parsed as §4.2.2 says).
#include "h2wire/priority.hpp"

namespace h2wire {

// Placeholder until the parser lands (branch prio-field).
std::optional<Priority> parse_priority(std::string_view, Priority base) noexcept { return base; }

PriorityText format_priority(Priority p) noexcept {
    PriorityText t;
    const unsigned u = p.urgency > max_urgency ? max_urgency : p.urgency;
    auto put = [&](char c) { t.data[t.size++] = c; };
    if (u != default_urgency) {
        put('u');
        put('=');
        put(static_cast<char>('0' + u));
    }
    if (p.incremental) {
        if (t.size) {
            put(',');
            put(' ');
        }
        put('i');
    }
    return t;
}

}  // namespace h2wire
