// Memory helpers of the connection: a growable byte buffer that does not
// zero what it grows into, and a chunked arena whose allocations never move.
// Both take their memory from a std::pmr::memory_resource and keep it for
// reuse, so a warm connection allocates nothing.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory_resource>
#include <new>
#include <utility>

// Library internals: not exported from the shared library.
#pragma GCC visibility push(hidden)

namespace h2wire::detail {

/// The most of something in use at once lately: the peak of this epoch and
/// of the one before (Connection::Impl::end_epoch()). What a burst grew is
/// given back once recent() no longer covers it, a couple of epochs later.
template <class T>
struct RecentPeak {
    T cur{};   // this epoch
    T prev{};  // the one before
    void note(T n) noexcept { cur = std::max(cur, n); }
    T recent() const noexcept { return std::max(cur, prev); }
    /// Ends an epoch. The next one starts from `floor` (what is in use now)
    /// or, with `halve`, from half this epoch's peak if that is more: a
    /// load whose rounds span several epochs keeps what a round uses.
    void roll(T floor = T{}, bool halve = false) noexcept {
        prev = cur;
        cur = std::max(halve ? static_cast<T>(cur / 2) : T{}, floor);
    }
};

/// memcpy for the short strings of header fields: up to 32 octets with
/// two overlapping loads and stores (no call), longer ones by memcpy.
inline void copy_bytes(void* dst, const void* src, std::size_t n) noexcept {
    auto* d = static_cast<unsigned char*>(dst);
    const auto* s = static_cast<const unsigned char*>(src);
    if (n >= 16) {
        if (n > 32) {
            std::memcpy(d, s, n);
            return;
        }
        unsigned char a[16], b[16];
        std::memcpy(a, s, 16);
        std::memcpy(b, s + n - 16, 16);
        std::memcpy(d, a, 16);
        std::memcpy(d + n - 16, b, 16);
    } else if (n >= 8) {
        std::uint64_t a, b;
        std::memcpy(&a, s, 8);
        std::memcpy(&b, s + n - 8, 8);
        std::memcpy(d, &a, 8);
        std::memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
        std::uint32_t a, b;
        std::memcpy(&a, s, 4);
        std::memcpy(&b, s + n - 4, 4);
        std::memcpy(d, &a, 4);
        std::memcpy(d + n - 4, &b, 4);
    } else if (n > 0) {
        d[0] = s[0];
        d[n / 2] = s[n / 2];
        d[n - 1] = s[n - 1];
    }
}

/// A byte buffer like std::vector<uint8_t>, but growing leaves the new octets
/// uninitialized and the capacity is never given back until destruction or
/// release().
class ByteBuffer {
public:
    explicit ByteBuffer(std::pmr::memory_resource* mr) noexcept : mr_(mr) {}
    ~ByteBuffer() { release(); }
    ByteBuffer(const ByteBuffer&) = delete;
    ByteBuffer& operator=(const ByteBuffer&) = delete;

    std::uint8_t* data() noexcept { return p_; }
    const std::uint8_t* data() const noexcept { return p_; }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return cap_; }
    bool empty() const noexcept { return size_ == 0; }
    void clear() noexcept { size_ = 0; }

    /// Makes room for `n` more octets and returns where they start; size()
    /// grows by `n`. Pointers into the buffer are invalidated.
    std::uint8_t* grow(std::size_t n) {
        reserve(size_ + n);
        std::uint8_t* at = p_ + size_;
        size_ += n;
        return at;
    }
    void append(const void* src, std::size_t n) {
        if (n) std::memcpy(grow(n), src, n);
    }
    /// Shrinks to `n` octets (n <= size()).
    void resize_down(std::size_t n) noexcept { size_ = n; }
    /// Drops the first `n` octets.
    void erase_front(std::size_t n) noexcept {
        if (n >= size_) {
            size_ = 0;
            return;
        }
        std::memmove(p_, p_ + n, size_ - n);
        size_ -= n;
    }
    void reserve(std::size_t n) {
        if (n > cap_) reserve_exact(std::max<std::size_t>({n, cap_ * 2, 256}));
    }
    /// Room for `n` octets in all, without growing past that.
    void reserve_exact(std::size_t n) {
        if (n <= cap_) return;
        const std::size_t want = n;
        auto* q = static_cast<std::uint8_t*>(mr_->allocate(want, 8));
        if (size_) std::memcpy(q, p_, size_);
        if (p_) mr_->deallocate(p_, cap_, 8);
        p_ = q;
        cap_ = want;
    }
    void swap(ByteBuffer& o) noexcept {
        std::swap(mr_, o.mr_);
        std::swap(p_, o.p_);
        std::swap(size_, o.size_);
        std::swap(cap_, o.cap_);
    }
    /// Gives the memory back.
    void release() noexcept {
        if (p_) mr_->deallocate(p_, cap_, 8);
        p_ = nullptr;
        size_ = cap_ = 0;
    }

private:
    std::pmr::memory_resource* mr_;
    std::uint8_t* p_ = nullptr;
    std::size_t size_ = 0;
    std::size_t cap_ = 0;
};

/// Spare byte buffers shared by the streams of a connection: a stream's
/// header store hands its buffer back when it empties and takes one when it
/// needs one, so idle streams hold none and a warm connection allocates none.
class BufferPool {
public:
    static constexpr std::size_t keep = 1024;     // spare buffers kept
    static constexpr std::size_t largest = 4096;  // bigger ones are freed
    static constexpr std::size_t smallest = 256;

    explicit BufferPool(std::pmr::memory_resource* mr) noexcept : mr_(mr) {}
    ~BufferPool() {
        while (head_) {
            Spare* s = head_;
            head_ = s->next;
            mr_->deallocate(s, s->cap, 8);
        }
    }
    BufferPool(const BufferPool&) = delete;
    BufferPool& operator=(const BufferPool&) = delete;

    /// A buffer of at least `need` octets; its size in `cap` (a power of
    /// two: buffers of a load's usual size fit each other's needs).
    std::uint8_t* take(std::size_t need, std::size_t& cap) {
        peak_.note(++in_use_);
        if (head_ && head_->cap >= need) {
            Spare* s = head_;
            head_ = s->next;
            --count_;
            cap = s->cap;
            return reinterpret_cast<std::uint8_t*>(s);
        }
        cap = std::bit_ceil(std::max(need, smallest));
        return static_cast<std::uint8_t*>(mr_->allocate(cap, 8));
    }
    /// Ends an epoch (Connection::Impl::end_epoch()): spare buffers past the
    /// most in use at once lately (this epoch's peak and the last one's,
    /// halved each epoch) are freed.
    void end_epoch() noexcept {
        const std::size_t allowed = peak_.recent();
        while (head_ && count_ > allowed) {
            Spare* s = head_;
            head_ = s->next;
            --count_;
            mr_->deallocate(s, s->cap, 8);
        }
        peak_.roll(in_use_, true);
    }
    /// Frees every spare buffer.
    void trim() noexcept {
        while (head_) {
            Spare* s = head_;
            head_ = s->next;
            mr_->deallocate(s, s->cap, 8);
        }
        count_ = 0;
    }
    /// Takes back a buffer from take().
    void give(std::uint8_t* p, std::size_t cap) noexcept {
        --in_use_;
        if (count_ >= keep || cap > largest) {
            mr_->deallocate(p, cap, 8);
            return;
        }
        // The free list runs through the spare buffers themselves.
        head_ = ::new (p) Spare{head_, cap};
        ++count_;
    }

private:
    struct Spare {
        Spare* next;
        std::size_t cap;
    };
    std::pmr::memory_resource* mr_;
    Spare* head_ = nullptr;
    std::size_t count_ = 0;
    std::size_t in_use_ = 0;      // buffers taken and not given back
    RecentPeak<std::size_t> peak_;  // of in_use_
};

/// Bump allocator over a list of chunks. Allocations stay where they are
/// until reset(), which rewinds to the first chunk and keeps the chunks (up to
/// a retained total) for the next round.
class Arena {
public:
    static constexpr std::size_t chunk_size = 16 * 1024;
    static constexpr std::size_t retained = 256 * 1024;

    explicit Arena(std::pmr::memory_resource* mr) noexcept : mr_(mr) {}
    ~Arena() {
        Chunk* c = head_;
        while (c) {
            Chunk* n = c->next;
            mr_->deallocate(c, sizeof(Chunk) + c->size, alignof(Chunk));
            c = n;
        }
    }
    Arena(const Arena&) = delete;
    Arena& operator=(const Arena&) = delete;

    void* allocate(std::size_t n, std::size_t align) {
        std::size_t at = (used_ + align - 1) & ~(align - 1);
        if (!cur_ || at + n > cur_->size) {
            next_chunk(n + align);
            at = 0;
        }
        used_ = at + n;
        return cur_->bytes() + at;
    }
    template <class T>
    T* allocate_array(std::size_t n) {
        return static_cast<T*>(allocate(sizeof(T) * n, alignof(T)));
    }
    /// Copies `n` octets in and returns the copy.
    const char* copy(const void* src, std::size_t n) {
        if (n == 0) return "";
        auto* p = static_cast<char*>(allocate(n, 1));
        std::memcpy(p, src, n);
        return p;
    }

    /// Everything allocated is given up (the chunks stay for reuse).
    void reset() noexcept {
        note_use();
        if (total_ > retained) drop_spare(head_);  // keep the first chunks up to `retained` octets
        cur_ = head_;
        used_ = 0;
    }

    /// Ends an epoch, right after reset(): chunks past what the uses of this
    /// epoch and the one before reached go back to the memory resource (all
    /// of them when neither used any). A burst's chunks outlive it by an
    /// epoch or two; a steady load allocates none.
    void end_epoch() noexcept {
        const std::size_t keep = peak_.recent();
        peak_.roll();
        if (!head_) return;
        if (keep == 0) {  // unused for two epochs: none stays
            trim();
            return;
        }
        std::size_t kept = head_->size;
        Chunk* last = head_;
        while (last->next && kept < keep) {
            last = last->next;
            kept += last->size;
        }
        drop_after(last);
    }

    /// Where the next allocation will go: everything allocated after it can
    /// be kept by keep_from() while everything before it is given up.
    struct Mark {
        const void* chunk = nullptr;
        std::size_t used = 0;
    };
    Mark mark() const noexcept { return Mark{cur_, used_}; }

    /// Ends everything allocated before `m` and keeps what came after it:
    /// the chunks wholly before the mark's chunk are rewound for reuse (the
    /// mark's own chunk keeps its dead head until the next reset()). So a
    /// header block whose fields are still being received keeps them while
    /// the events of earlier calls are let go, however the input is split.
    void keep_from(const Mark& m) noexcept {
        if (m.chunk && m.chunk != head_) {
            // Move the chunks [head_, mark chunk) behind the list's tail.
            Chunk* first = head_;
            Chunk* before = head_;
            while (before->next != m.chunk) before = before->next;
            head_ = before->next;
            before->next = nullptr;
            Chunk* tail = head_;
            while (tail->next) tail = tail->next;
            tail->next = first;
        }
        // (A mark before the first chunk keeps everything.)
        if (total_ > retained) drop_spare(cur_);
    }

    /// Gives back everything allocated since `m` (its chunks stay for reuse,
    /// up to the retained total).
    void rewind(const Mark& m) noexcept {
        cur_ = m.chunk ? static_cast<Chunk*>(const_cast<void*>(m.chunk)) : head_;
        used_ = m.chunk ? m.used : 0;
        if (total_ > retained && cur_) drop_spare(cur_);
    }

    /// Frees every chunk. Everything allocated from the arena is gone.
    void trim() noexcept {
        Chunk* c = head_;
        while (c) {
            Chunk* n = c->next;
            mr_->deallocate(c, sizeof(Chunk) + c->size, alignof(Chunk));
            c = n;
        }
        head_ = cur_ = nullptr;
        used_ = 0;
        total_ = 0;
    }

    /// Total octets of the chunks held (for tests and memory accounting).
    std::size_t footprint() const noexcept { return total_; }

private:
    struct alignas(16) Chunk {
        Chunk* next;
        std::size_t size;
        std::uint8_t* bytes() noexcept { return reinterpret_cast<std::uint8_t*>(this + 1); }
    };

    /// Frees the chunks after `last_used` (spare ones) beyond the retained
    /// total, counted from the head. Every chunk is either in use (up to
    /// `last_used`) or spare, so the arena holds what is in use plus at most
    /// `retained` octets, however allocations came and went.
    void drop_spare(Chunk* last_used) noexcept {
        std::size_t kept = 0;
        bool spare = last_used == nullptr;
        Chunk** link = &head_;
        while (*link) {
            Chunk* c = *link;
            if (spare && kept + c->size > retained) {
                *link = c->next;
                total_ -= c->size;
                mr_->deallocate(c, sizeof(Chunk) + c->size, alignof(Chunk));
                continue;
            }
            kept += c->size;
            if (c == last_used) spare = true;
            link = &c->next;
        }
    }

    /// Octets of the chunks up to the current one: what this use reached.
    void note_use() noexcept {
        if (!cur_ || (cur_ == head_ && used_ == 0)) return;  // unused since the last reset
        std::size_t n = 0;
        for (const Chunk* c = head_; c; c = c->next) {
            n += c->size;
            if (c == cur_) break;
        }
        peak_.note(n);
    }

    void drop_after(Chunk* last) noexcept {
        Chunk* c = last->next;
        last->next = nullptr;
        while (c) {
            Chunk* n = c->next;
            total_ -= c->size;
            mr_->deallocate(c, sizeof(Chunk) + c->size, alignof(Chunk));
            c = n;
        }
    }

    void next_chunk(std::size_t need) {
        // Reuse the following chunk when it is big enough; otherwise insert a
        // new one after the current chunk (the smaller one stays for later).
        Chunk* following = cur_ ? cur_->next : head_;
        if (following && following->size >= need) {
            cur_ = following;
            used_ = 0;
            return;
        }
        const std::size_t size = std::max(need, chunk_size);
        auto* c = static_cast<Chunk*>(mr_->allocate(sizeof(Chunk) + size, alignof(Chunk)));
        c->size = size;
        total_ += size;
        c->next = following;
        if (cur_) cur_->next = c;
        else head_ = c;
        cur_ = c;
        used_ = 0;
    }

    std::pmr::memory_resource* mr_;
    Chunk* head_ = nullptr;
    Chunk* cur_ = nullptr;
    std::size_t used_ = 0;
    std::size_t total_ = 0;  // octets of all chunks
    RecentPeak<std::size_t> peak_;  // octets of chunks a use reached
};

}  // namespace h2wire::detail

#pragma GCC visibility pop
