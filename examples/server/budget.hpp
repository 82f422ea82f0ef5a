// Process-wide budgets of the example servers: what all connections of one
// loop hold together, with a cap on each. One loop, one thread: plain
// integers, no locks.
//
// A connection's memory is its h2wire::Connection::memory_used() (the
// library's hard per-connection budget, Limits::max_connection_memory, caps
// it) plus the buffers the application and the transport keep for it. Each
// connection reports its total through a MemoryShare; the loop compares the
// sum with the cap, stops accepting while it is over, and sheds the largest
// connection (GOAWAY ENHANCE_YOUR_CALM) until it is under again.
#pragma once

#include <cstddef>
#include <cstdio>
#include <iterator>

namespace example {

struct ProcessBudget {
    /// Sum of every connection's share (library, application, transport).
    std::size_t memory = 0;
    std::size_t memory_cap = 256u << 20;
    /// Echo body octets held by all POST /echo streams (a part of `memory`).
    /// Past the cap no echo stream gets slack: strict backpressure.
    std::size_t echo = 0;
    std::size_t echo_cap = 64u << 20;
    /// Octets of HTTP/1.1 requests waiting for an h2c upgrade (head and
    /// body, held whole until the request is complete). Past the cap new
    /// octets are refused with 503.
    std::size_t upgrade = 0;
    std::size_t upgrade_cap = 16u << 20;
    /// Accepted connections, and the most the loop accepts at once.
    std::size_t connections = 0;
    std::size_t max_connections = 1024;

    bool over_memory() const { return memory > memory_cap; }
    /// Whether the loop may accept another connection now.
    bool may_accept() const { return connections < max_connections && memory < memory_cap; }
};

/// One connection's part of ProcessBudget::memory; set() it whenever the
/// connection's total may have changed, and it leaves the sum when destroyed.
class MemoryShare {
public:
    explicit MemoryShare(ProcessBudget* budget) : budget_(budget) {
        if (budget_) ++budget_->connections;
    }
    ~MemoryShare() {
        if (!budget_) return;
        budget_->memory -= held_;
        --budget_->connections;
    }
    MemoryShare(const MemoryShare&) = delete;
    MemoryShare& operator=(const MemoryShare&) = delete;

    void set(std::size_t octets) {
        if (budget_) budget_->memory = budget_->memory - held_ + octets;
        held_ = octets;
    }
    std::size_t held() const { return held_; }

private:
    ProcessBudget* budget_;
    std::size_t held_ = 0;
};

/// A counter's part of one of ProcessBudget's sums (echo, upgrade): add and
/// remove octets; what is left is removed when destroyed.
class Holding {
public:
    explicit Holding(std::size_t* total = nullptr) : total_(total) {}
    ~Holding() { set(0); }
    Holding(const Holding&) = delete;
    Holding& operator=(const Holding&) = delete;

    void set(std::size_t octets) {
        if (total_) *total_ = *total_ - held_ + octets;
        held_ = octets;
    }
    std::size_t held() const { return held_; }

private:
    std::size_t* total_;
    std::size_t held_ = 0;
};

/// Over the process memory cap: the connections holding the most are shed,
/// largest first, until what the others hold fits under `cap`.
/// `held(c)` is what connection `c` holds, 0 for one already on its way out
/// (draining, closed), which does not count; `shed(c)` sends `c` away (GOAWAY
/// ENHANCE_YOUR_CALM, or an HTTP/1.1 503) and makes held(c) 0.
template <class Connections, class Held, class Shed>
void shed_largest(Connections& all, std::size_t cap, Held held, Shed shed) {
    std::size_t live = 0;
    for (auto& c : all) live += held(c);
    while (live > cap) {
        decltype(&*std::begin(all)) largest = nullptr;
        std::size_t most = 0;
        for (auto& c : all) {
            if (const std::size_t n = held(c); n > most) {
                largest = &c;
                most = n;
            }
        }
        if (!largest) return;
        live -= most;
        std::fprintf(stderr, "memory cap: shedding a connection holding %zu octets\n", most);
        shed(*largest);
    }
}

}  // namespace example
