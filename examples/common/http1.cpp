// Minimal HTTP/1.1 head parser (see http1.hpp).
#include "common/http1.hpp"

#include <algorithm>
#include <cctype>

namespace example {

namespace {

char lower(char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

bool iequal(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool is_tchar(char c) {
    // RFC 9110 §5.6.2
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Splits the head into its first line and fields; `first` receives the
// start line.
Http1Parse parse_head(std::string_view in, Http1Head& head, std::size_t max_size, std::string_view& first) {
    const std::size_t end = in.find("\r\n\r\n");
    if (end == std::string_view::npos) return in.size() > max_size ? Http1Parse::bad : Http1Parse::incomplete;
    if (end + 4 > max_size) return Http1Parse::bad;
    head = Http1Head{};
    head.size = end + 4;
    std::string_view rest = in.substr(0, end + 2);
    std::size_t eol = rest.find("\r\n");
    first = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    while (!rest.empty()) {
        eol = rest.find("\r\n");
        const std::string_view line = rest.substr(0, eol);
        rest.remove_prefix(eol + 2);
        const std::size_t colon = line.find(':');
        if (colon == 0 || colon == std::string_view::npos || head.fields.size() >= 100) return Http1Parse::bad;
        const std::string_view name = line.substr(0, colon);
        if (!std::all_of(name.begin(), name.end(), is_tchar))
            return Http1Parse::bad;  // RFC 9112 §5.1: no space before ':'
        const std::string_view value = trim(line.substr(colon + 1));
        if (value.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos) return Http1Parse::bad;
        std::string n(name);
        std::transform(n.begin(), n.end(), n.begin(), lower);
        head.fields.emplace_back(std::move(n), std::string(value));
    }
    return Http1Parse::done;
}

}  // namespace

bool may_be_request_line(std::string_view in) {
    std::size_t i = 0;
    while (i < in.size() && is_tchar(in[i])) ++i;  // method = token
    if (i == in.size()) return true;
    if (i == 0 || in[i] != ' ') return false;
    const std::size_t target = ++i;
    while (i < in.size() && in[i] > ' ' && in[i] < 0x7f) ++i;  // request-target: visible characters
    if (i == in.size()) return true;
    if (i == target || in[i] != ' ') return false;
    // HTTP-version = "HTTP/" DIGIT "." DIGIT; only 1.x can be a request here.
    const std::string_view rest = in.substr(i + 1);
    constexpr std::string_view version = "HTTP/1.";
    const std::size_t k = std::min(rest.size(), version.size());
    if (rest.substr(0, k) != version.substr(0, k)) return false;
    if (rest.size() <= version.size()) return true;
    if (!std::isdigit(static_cast<unsigned char>(rest[version.size()]))) return false;
    constexpr std::string_view crlf = "\r\n";
    const std::string_view end = rest.substr(version.size() + 1);
    const std::size_t m = std::min(end.size(), crlf.size());
    return end.substr(0, m) == crlf.substr(0, m);
}

const std::string* Http1Head::one(std::string_view name) const {
    const std::string* found = nullptr;
    for (const auto& [n, v] : fields) {
        if (n != name) continue;
        if (found) return nullptr;
        found = &v;
    }
    return found;
}

bool Http1Head::lists(std::string_view name, std::string_view token) const {
    for (const auto& [n, v] : fields) {
        if (n != name) continue;
        std::string_view rest = v;
        while (!rest.empty()) {
            const std::size_t comma = std::min(rest.find(','), rest.size());
            if (iequal(trim(rest.substr(0, comma)), token)) return true;
            rest.remove_prefix(std::min(comma + 1, rest.size()));
        }
    }
    return false;
}

Http1Parse parse_request_head(std::string_view in, Http1Head& head, std::size_t max_size) {
    std::string_view line;
    const Http1Parse r = parse_head(in, head, max_size, line);
    if (r != Http1Parse::done) return r;
    // request-line = method SP request-target SP HTTP-version (RFC 9112 §3)
    const std::size_t a = line.find(' ');
    const std::size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    if (b == std::string_view::npos || line.substr(b + 1) != "HTTP/1.1") return Http1Parse::bad;
    head.method = line.substr(0, a);
    head.target = line.substr(a + 1, b - a - 1);
    if (head.method.empty() || head.target.empty() || !std::all_of(head.method.begin(), head.method.end(), is_tchar) ||
        head.target.find_first_of(" \t") != std::string::npos)
        return Http1Parse::bad;
    return Http1Parse::done;
}

Http1Parse parse_response_head(std::string_view in, Http1Head& head, std::size_t max_size) {
    std::string_view line;
    const Http1Parse r = parse_head(in, head, max_size, line);
    if (r != Http1Parse::done) return r;
    // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4)
    if (line.size() < 12 || line.substr(0, 9) != "HTTP/1.1 " || !std::isdigit(static_cast<unsigned char>(line[9])) ||
        !std::isdigit(static_cast<unsigned char>(line[10])) || !std::isdigit(static_cast<unsigned char>(line[11])))
        return Http1Parse::bad;
    head.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    return Http1Parse::done;
}

}  // namespace example
