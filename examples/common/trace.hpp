// -v output: one line per frame, decoded from a copy of the bytes by a
// frame::Reader of its own (the connection's state is not looked at).
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string_view>

#include "h2wire/connection.hpp"
#include "h2wire/frame.hpp"

namespace example {

class FrameTrace {
public:
    /// `arrow` starts each line ("send" / "recv"); `preface`: the bytes
    /// start with the client connection preface, which is skipped.
    FrameTrace(std::string_view arrow, bool preface, std::FILE* out = stderr);
    void feed(std::span<const std::uint8_t> bytes);
    /// The first n octets of output pieces (what a writev just wrote).
    void feed(std::span<const h2wire::OutputChunk> pieces, std::size_t n);

private:
    std::string_view arrow_;
    std::size_t preface_left_;
    std::FILE* out_;
    h2wire::frame::Reader reader_;
};

}  // namespace example
