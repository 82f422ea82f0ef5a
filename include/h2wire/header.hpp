/// \file
/// Header fields as the library hands them around.
#pragma once

#include <string_view>

namespace h2wire {

/// One header field. The views belong to whoever made the Field; the library
/// documents, at each place it hands one out, how long they stay valid.
struct Field {
    /// Lower case on the wire (RFC 9113 §8.2); pseudo-header names start
    /// with ':' and come before all regular fields (RFC 9113 §8.3).
    std::string_view name;
    /// The octets as given or received. A valid value has no NUL, CR or LF
    /// and no leading or trailing space or tab (RFC 9113 §8.2.1).
    std::string_view value;
    /// Never indexed (RFC 7541 §7.1.3). Set it on secrets the encoder must not
    /// put in a compression table; the decoder sets it on fields that arrived
    /// as never-indexed literals, so intermediaries can keep the mark.
    bool sensitive = false;

    friend bool operator==(const Field& a, const Field& b) noexcept {
        return a.name == b.name && a.value == b.value && a.sensitive == b.sensitive;
    }
};

}  // namespace h2wire
