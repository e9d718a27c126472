#define _GNU_SOURCE
#include <sys/socket.h>

int clinuxio_accept4(int fd) {
    return accept4(fd, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
