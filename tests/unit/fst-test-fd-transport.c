/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-only FstTransport over a file descriptor, for running the FSP driver
 * against the device SDK on the other end of a socketpair.
 */
#define G_LOG_DOMAIN "FstTestFdTransport"

#include "fst-test-fd-transport.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "fst-error.h"

struct _FstTestFdTransport {
	FstTransport parent_instance;
	int fd; /* (owned) */
};

G_DEFINE_TYPE(FstTestFdTransport, fst_test_fd_transport, FST_TYPE_TRANSPORT)

/* waits in slices so that a cancellation is noticed */
static gssize
fst_test_fd_transport_read(FstTransport *transport,
                           guint8 *buf,
                           gsize len,
                           guint timeout_ms,
                           GCancellable *cancellable,
                           GError **error)
{
	FstTestFdTransport *self = FST_TEST_FD_TRANSPORT(transport);
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

	for (;;) {
		struct pollfd pfd = {.fd = self->fd, .events = POLLIN};
		gint64 left = (deadline - g_get_monotonic_time()) / 1000;
		ssize_t n;
		int rc;

		if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
			fst_error_convert_gio(error);
			return -1;
		}
		if (left <= 0) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_TIMED_OUT,
			            "%s: nothing received in %u ms",
			            fst_transport_get_name(transport),
			            timeout_ms);
			return -1;
		}
		rc = poll(&pfd, 1, (int)MIN(left, 50));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0)
			continue;
		n = read(self->fd, buf, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_DISCONNECTED,
			            "%s: the peer went away",
			            fst_transport_get_name(transport));
			return -1;
		}
		return n;
	}
}

static gboolean
fst_test_fd_transport_write(FstTransport *transport,
                            const guint8 *buf,
                            gsize len,
                            guint timeout_ms,
                            GCancellable *cancellable,
                            GError **error)
{
	FstTestFdTransport *self = FST_TEST_FD_TRANSPORT(transport);
	gsize done = 0;

	(void)timeout_ms;
	(void)cancellable;
	while (done < len) {
		ssize_t n = write(self->fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_DISCONNECTED,
			            "%s: write failed: %s",
			            fst_transport_get_name(transport),
			            g_strerror(errno));
			return FALSE;
		}
		done += (gsize)n;
	}
	return TRUE;
}

static void
fst_test_fd_transport_finalize(GObject *object)
{
	FstTestFdTransport *self = FST_TEST_FD_TRANSPORT(object);
	if (self->fd >= 0)
		close(self->fd);
	G_OBJECT_CLASS(fst_test_fd_transport_parent_class)->finalize(object);
}

static void
fst_test_fd_transport_init(FstTestFdTransport *self)
{
	self->fd = -1;
}

static void
fst_test_fd_transport_class_init(FstTestFdTransportClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	FstTransportClass *transport_class = FST_TRANSPORT_CLASS(klass);
	object_class->finalize = fst_test_fd_transport_finalize;
	transport_class->read = fst_test_fd_transport_read;
	transport_class->write = fst_test_fd_transport_write;
}

/* takes ownership of @fd */
FstTransport *
fst_test_fd_transport_new(int fd, const gchar *name)
{
	FstTestFdTransport *self = g_object_new(FST_TYPE_TEST_FD_TRANSPORT, NULL);
	self->fd = fd;
	fst_transport_set_name(FST_TRANSPORT(self), name);
	return FST_TRANSPORT(self);
}
