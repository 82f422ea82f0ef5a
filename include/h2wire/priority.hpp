/// \file
/// Extensible priorities (RFC 9218): the priority parameters, the Priority
/// field value's parser and writer. The connection uses them to schedule
/// responses (Connection::set_priority(), Connection::reprioritize()).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "h2wire/export.hpp"

namespace h2wire {

/// The priority parameters of a response (RFC 9218 §4).
struct Priority {
    /// Urgency, `u` (RFC 9218 §4.1): 0 (most urgent) to 7 (background).
    std::uint8_t urgency = 3;
    /// Incremental, `i` (RFC 9218 §4.2): the response is useful in parts,
    /// so it may share bandwidth with others of its urgency.
    bool incremental = false;

    friend bool operator==(const Priority&, const Priority&) = default;
};

/// The default urgency (RFC 9218 §4.1).
inline constexpr std::uint8_t default_urgency = 3;
/// The least urgent one, for background work (RFC 9218 §4.1).
inline constexpr std::uint8_t max_urgency = 7;

/// Parses a Priority field value: a Structured Field Dictionary (RFC 8941
/// §4.2.2, RFC 9218 §4). Members `u` (an Integer 0..7) and `i` (a Boolean;
/// a bare `i` is true) set the parameters; unknown keys, parameters of
/// members, out-of-range values and values of the wrong type are ignored
/// (RFC 9218 §4), and a parameter that is absent or ignored keeps its value
/// in `base` (the RFC's defaults for a request; the client's values when
/// merging a response's field, §8). When a key repeats, the last one counts
/// (RFC 8941 §3.2). Returns nullopt when the value is not a valid
/// Dictionary; the caller then treats the field as absent.
///
/// Several field lines form one value joined by commas (RFC 9110 §5.3).
/// Parsing them in order, each with the previous result as `base` (what the
/// connection does), gives the same parameters as the joined value when
/// every line parses, except in one corner: when a later line's `u` or `i`
/// is ignored (out of range, wrong type), the joined value falls back to
/// `base` while line by line keeps the earlier line's value.
///
/// Bounded work: one pass over `value`, no allocation.
H2WIRE_API std::optional<Priority> parse_priority(std::string_view value, Priority base = {}) noexcept;

/// A Priority field value, formatted in place.
struct PriorityText {
    char data[8] = {};       ///< the characters ("u=5, i" is the longest)
    std::uint8_t size = 0;   ///< how many of `data` are used
    /// The value as a string view into `data`.
    std::string_view view() const noexcept { return {data, size}; }
};

/// The shortest field value for `p`, defaults omitted (RFC 9218 §4:
/// omitting a parameter means its default): "u=5, i", "u=0", "i", or ""
/// for the defaults. An urgency above 7 is written as 7.
H2WIRE_API PriorityText format_priority(Priority p) noexcept;

}  // namespace h2wire
