/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Help for libserialport 0.1.1 on pseudo-terminals, and only there.
 *
 * libserialport calls TIOCMGET in sp_open() and in every sp_set_*(), and Linux
 * ptys answer ENOTTY to the modem-control ioctls, so a pty cannot be opened.
 * This file defines ioctl(): linked into the executable, it is the one
 * libserialport.so calls. It is a plain pass-through unless the calling thread
 * is inside FstSerialTransport's libserialport open/configure calls
 * (_fst_pty_shim_enter()/_leave()), and even then it only answers the four
 * modem-control requests, only when the kernel refused them as ENOTTY or
 * EINVAL on a terminal (tcgetattr() works: isatty() is faked under umockdev).
 * That is a pty, a pty behind umockdev's emulated /dev/ttyUSB0, or a serial
 * driver without modem lines; a UART that has them never takes that path.
 */

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "fst-pty-shim.h"

/* depth of libserialport calls on a pty made by this thread */
static __thread guint fst_pty_shim_depth;
/* emulated modem lines: a pty has none, so say the peer is there */
static __thread int fst_pty_shim_bits = TIOCM_CTS | TIOCM_DSR | TIOCM_CAR;

typedef int (*FstIoctlFunc)(int fd, unsigned long request, ...);

void
_fst_pty_shim_enter(void)
{
	fst_pty_shim_depth++;
}

void
_fst_pty_shim_leave(void)
{
	g_return_if_fail(fst_pty_shim_depth > 0);
	fst_pty_shim_depth--;
}

static FstIoctlFunc
fst_pty_shim_real_ioctl(void)
{
	static gsize once = 0;
	static FstIoctlFunc real = NULL;
	if (g_once_init_enter(&once)) {
		real = (FstIoctlFunc)dlsym(RTLD_NEXT, "ioctl");
		g_once_init_leave(&once, 1);
	}
	return real;
}

int ioctl(int fd, unsigned long request, ...);

int
ioctl(int fd, unsigned long request, ...)
{
	va_list args;
	void *arg;
	int rc;
	int saved_errno;

	va_start(args, request);
	arg = va_arg(args, void *);
	va_end(args);

	rc = fst_pty_shim_real_ioctl()(fd, request, arg);
	if (rc == 0 || fst_pty_shim_depth == 0)
		return rc;
	saved_errno = errno;
	if (saved_errno != ENOTTY && saved_errno != EINVAL)
		return rc;
	if (request == TIOCMGET || request == TIOCMSET || request == TIOCMBIS ||
	    request == TIOCMBIC) {
		struct termios tio;
		if (tcgetattr(fd, &tio) != 0) {
			errno = saved_errno;
			return rc;
		}
	}
	switch (request) {
	case TIOCMGET:
		*(int *)arg = fst_pty_shim_bits;
		break;
	case TIOCMSET:
		fst_pty_shim_bits = *(const int *)arg;
		break;
	case TIOCMBIS:
		fst_pty_shim_bits |= *(const int *)arg;
		break;
	case TIOCMBIC:
		fst_pty_shim_bits &= ~*(const int *)arg;
		break;
	default:
		errno = saved_errno;
		return rc;
	}
	errno = 0;
	return 0;
}
