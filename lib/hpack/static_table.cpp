#include "hpack/static_table.hpp"

#include <array>

#include "hpack/hash.hpp"

namespace h2wire::hpack::detail {

namespace {

// Lookup by name: an open-addressing table of 128 slots built at compile time
// from kStaticTable, keyed by hash_bytes(name). A slot holds the first static index
// with that name (entries of one name are adjacent in Appendix A) and the
// name's hash, so a miss usually costs one comparison of two integers.
struct NameSlot {
    std::uint64_t hash = 0;
    std::uint8_t index = 0;  // 0: empty
};
constexpr std::size_t kNameSlots = 128;

constexpr std::array<NameSlot, kNameSlots> build_name_index() {
    std::array<NameSlot, kNameSlots> slots{};
    for (std::uint32_t i = 0; i < 61; ++i) {
        if (i > 0 && kStaticTable[i].name == kStaticTable[i - 1].name) continue;
        const std::uint64_t h = hash_bytes(kStaticTable[i].name);
        std::size_t s = h & (kNameSlots - 1);
        while (slots[s].index != 0) s = (s + 1) & (kNameSlots - 1);
        slots[s] = {h, static_cast<std::uint8_t>(i + 1)};
    }
    return slots;
}
constexpr std::array<NameSlot, kNameSlots> kNameIndex = build_name_index();

}  // namespace

StaticMatch static_lookup(std::string_view name, std::string_view value, std::uint64_t name_hash) noexcept {
    StaticMatch m;
    for (std::size_t s = name_hash & (kNameSlots - 1); kNameIndex[s].index != 0; s = (s + 1) & (kNameSlots - 1)) {
        if (kNameIndex[s].hash != name_hash || kStaticTable[kNameIndex[s].index - 1].name != name) continue;
        m.name_index = kNameIndex[s].index;
        for (std::uint32_t i = m.name_index; i <= 61 && kStaticTable[i - 1].name == name; ++i) {
            if (kStaticTable[i - 1].value == value) {
                m.full_index = i;
                break;
            }
        }
        break;
    }
    return m;
}

}  // namespace h2wire::hpack::detail
