// Linux I/O interfaces that Swift's Glibc module does not export: epoll, eventfd,
// sendfile and accept4. The HTTP server's event loop is built on these.
#ifndef CLINUXIO_H
#define CLINUXIO_H
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

// epoll_event is packed on x86_64, which Swift cannot build field by field; these helpers
// construct and read it in C.
static inline int clinuxio_epoll_ctl(int epfd, int op, int fd, uint32_t events) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = 0;
    ev.data.fd = fd;
    return epoll_ctl(epfd, op, fd, &ev);
}

static inline int clinuxio_epoll_wait(int epfd, int *fds, uint32_t *events, int max, int timeout) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout);
    for (int i = 0; i < n; i++) {
        fds[i] = evs[i].data.fd;
        events[i] = evs[i].events;
    }
    return n;
}

// accept4 and sync_file_range need _GNU_SOURCE, which must not leak into the module's headers.
int clinuxio_accept4(int fd);

// Opens an existing file for writing with O_DIRECT (bypassing the page cache); -1 if the
// file system does not support it.
int clinuxio_open_direct_write(const char *path);

// Starts asynchronous writeback of a file range, so a later fsync has little left to do.
int clinuxio_start_writeback(int fd, long long offset, long long length);
#endif
