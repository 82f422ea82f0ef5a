// Readiness of many sockets for one event loop: epoll(7) on Linux, poll(2)
// everywhere. The loop registers each socket once, with a tag (its
// connection), and changes only what it waits for (writability, while a
// write is blocked); wait() reports the sockets that are ready.
//
// poll() hands the kernel every descriptor on every call and the loop scans
// them all, so its cost per turn grows with the number of connections, idle
// ones included. epoll keeps the interest list in the kernel and reports
// only what is ready: 10,000 idle connections cost nothing per turn.
// Level-triggered in both: a socket with input left over (the loop stopped
// at its read budget) is reported again on the next turn.
#pragma once

#include <poll.h>

#include <cstddef>
#include <memory>
#include <unordered_map>
#include <vector>

#ifdef __linux__
#include <sys/epoll.h>
#include <unistd.h>
#endif

namespace example {

class Poller {
public:
    struct Ready {
        void* tag;
        bool in;   ///< readable, or hung up / failed (a read will tell)
        bool out;  ///< writable
    };
    virtual ~Poller() = default;
    /// Watches `fd` for input (and output when `out`). False on failure.
    virtual bool add(int fd, void* tag, bool out) = 0;
    /// Whether to watch `fd` (added before) for output too.
    virtual void set_out(int fd, void* tag, bool out) = 0;
    /// Stops watching `fd`; call before closing it.
    virtual void remove(int fd) = 0;
    /// Waits at most `timeout_ms` (-1: no limit) and fills `ready`. Returns
    /// how many are ready, or -1 (errno set).
    virtual int wait(int timeout_ms, std::vector<Ready>& ready) = 0;
    virtual const char* name() const = 0;
};

/// poll(2): portable; O(descriptors) per turn.
class PollPoller final : public Poller {
public:
    bool add(int fd, void* tag, bool out) override {
        where_[fd] = fds_.size();
        fds_.push_back({fd, static_cast<short>(POLLIN | (out ? POLLOUT : 0)), 0});
        tags_.push_back(tag);
        return true;
    }
    void set_out(int fd, void*, bool out) override {
        const auto it = where_.find(fd);
        if (it != where_.end()) fds_[it->second].events = static_cast<short>(POLLIN | (out ? POLLOUT : 0));
    }
    void remove(int fd) override {
        const auto it = where_.find(fd);
        if (it == where_.end()) return;
        const std::size_t i = it->second;
        where_.erase(it);
        if (i + 1 != fds_.size()) {  // the last one takes its place
            fds_[i] = fds_.back();
            tags_[i] = tags_.back();
            where_[fds_[i].fd] = i;
        }
        fds_.pop_back();
        tags_.pop_back();
    }
    int wait(int timeout_ms, std::vector<Ready>& ready) override {
        ready.clear();
        const int n = ::poll(fds_.data(), fds_.size(), timeout_ms);
        if (n <= 0) return n;
        for (std::size_t i = 0; i < fds_.size(); ++i) {
            const short ev = fds_[i].revents;
            if (!ev) continue;
            ready.push_back({tags_[i], (ev & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0, (ev & POLLOUT) != 0});
        }
        return static_cast<int>(ready.size());
    }
    const char* name() const override { return "poll"; }

private:
    std::vector<pollfd> fds_;
    std::vector<void*> tags_;
    std::unordered_map<int, std::size_t> where_;  // fd -> index in fds_
};

#ifdef __linux__
/// epoll(7), level-triggered: O(ready) per turn.
class EpollPoller final : public Poller {
public:
    EpollPoller() : ep_(::epoll_create1(EPOLL_CLOEXEC)) {}
    ~EpollPoller() override {
        if (ep_ >= 0) ::close(ep_);
    }
    EpollPoller(const EpollPoller&) = delete;
    EpollPoller& operator=(const EpollPoller&) = delete;
    bool ok() const { return ep_ >= 0; }

    bool add(int fd, void* tag, bool out) override { return ctl(EPOLL_CTL_ADD, fd, tag, out); }
    void set_out(int fd, void* tag, bool out) override { ctl(EPOLL_CTL_MOD, fd, tag, out); }
    void remove(int fd) override { ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr); }
    int wait(int timeout_ms, std::vector<Ready>& ready) override {
        ready.clear();
        const int n = ::epoll_wait(ep_, events_, max_events, timeout_ms);
        for (int i = 0; i < n; ++i) {
            const std::uint32_t ev = events_[i].events;
            ready.push_back(
                {events_[i].data.ptr, (ev & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) != 0, (ev & EPOLLOUT) != 0});
        }
        return n;
    }
    const char* name() const override { return "epoll"; }

private:
    bool ctl(int op, int fd, void* tag, bool out) {
        epoll_event ev{};
        ev.events = EPOLLIN | (out ? EPOLLOUT : 0u);
        ev.data.ptr = tag;
        return ::epoll_ctl(ep_, op, fd, &ev) == 0;
    }
    // Sockets still ready after a full batch are reported on the next turn
    // (level-triggered), so the batch size bounds a turn, not fairness.
    static constexpr int max_events = 256;
    int ep_;
    epoll_event events_[max_events];
};
#endif

/// epoll on Linux unless `use_poll`; poll() elsewhere.
inline std::unique_ptr<Poller> make_poller(bool use_poll) {
#ifdef __linux__
    if (!use_poll) {
        auto p = std::make_unique<EpollPoller>();
        if (p->ok()) return p;
    }
#endif
    (void)use_poll;
    return std::make_unique<PollPoller>();
}

}  // namespace example
