/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FstSerialTransport: a serial port through libserialport.
 *
 * Real ports (/dev/ttyUSB0, /dev/ttyACM0, ...) go straight to libserialport.
 * Two kinds of help from libserialport 0.1.1:
 *  - for pseudo-terminals (the device simulator, socat links) only:
 *    sp_get_port_by_name() wants a "/dev/X" name whose /sys/class/tty/X is a
 *    symlink, which ptys lack; a symlink to the pty, named through
 *    "/dev/../../..<link>", resolves under both prefixes. A port path that is
 *    a symlink already (the simulator's --link) serves as it is; otherwise a
 *    private link is made, in a directory of its own;
 *  - sp_open() and sp_set_*() fail when the line has no modem-control
 *    ioctls (TIOCMGET answers ENOTTY: a pty, a pty behind umockdev's emulated
 *    /dev/ttyUSB0, a USB serial driver without them); fst-pty-shim.c answers
 *    those, only for this thread, only inside these calls and only when the
 *    kernel refused them. A UART that has modem lines is never touched.
 */

#define G_LOG_DOMAIN "FstSerialTransport"

#include "fst-serial-transport.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <libserialport.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fst-error.h"
#include "fst-pty-shim.h"

struct _FstSerialTransport {
	FstTransport parent_instance;
	struct sp_port *port; /* (owned) (nullable): while open */
	gboolean is_pty;
	gchar *link_dir; /* (owned) (nullable): private dir holding the pty symlink */
	gchar *link;     /* (owned) (nullable) */
};

G_DEFINE_TYPE(FstSerialTransport, fst_serial_transport, FST_TYPE_TRANSPORT)

/* UNIX98 pty slaves have majors 136..143 (Documentation/admin-guide/devices.txt) */
static gboolean
fst_serial_transport_path_is_pty(const gchar *path)
{
	struct stat st;
	if (g_stat(path, &st) != 0 || !S_ISCHR(st.st_mode))
		return FALSE;
	return major(st.st_rdev) >= 136 && major(st.st_rdev) <= 143;
}

static FstError
fst_serial_transport_errno_to_code(int errsv)
{
	switch (errsv) {
	case ENOENT:
	case ENODEV:
		return FST_ERROR_NOT_FOUND;
	case EACCES:
	case EPERM:
		return FST_ERROR_PERMISSION_DENIED;
	case EBUSY:
		return FST_ERROR_BUSY;
	case EIO:
	case ENXIO:
	case EPIPE:
	case EBADF:
		return FST_ERROR_DISCONNECTED;
	case ETIMEDOUT:
		return FST_ERROR_TIMED_OUT;
	default:
		return FST_ERROR_INTERNAL;
	}
}

/* converts an sp_return < 0 and libserialport's last OS error to an FST_ERROR */
static void
fst_serial_transport_set_error(FstSerialTransport *self,
                               enum sp_return rc,
                               const gchar *what,
                               GError **error)
{
	const gchar *name = fst_transport_get_name(FST_TRANSPORT(self));
	FstError code = FST_ERROR_INTERNAL;
	g_autofree gchar *msg = NULL;
	int errsv = 0;

	switch (rc) {
	case SP_ERR_ARG:
		msg = g_strdup("invalid argument");
		code = FST_ERROR_INTERNAL;
		break;
	case SP_ERR_FAIL: {
		char *sp_msg;
		errsv = sp_last_error_code();
		sp_msg = sp_last_error_message();
		msg = g_strdup(sp_msg != NULL ? sp_msg : g_strerror(errsv));
		sp_free_error_message(sp_msg);
		code = fst_serial_transport_errno_to_code(errsv);
		break;
	}
	case SP_ERR_MEM:
		msg = g_strdup("out of memory");
		code = FST_ERROR_INTERNAL;
		break;
	case SP_ERR_SUPP:
		msg = g_strdup("not supported by this port or platform");
		code = FST_ERROR_NOT_SUPPORTED;
		break;
	case SP_OK:
	default:
		msg = g_strdup_printf("unexpected libserialport result %d", (gint)rc);
		break;
	}
	switch (code) {
	case FST_ERROR_NOT_FOUND:
		g_set_error(
		    error,
		    FST_ERROR,
		    code,
		    "%s %s: %s: is the device plugged in? (`fleetstation ports` lists ports)",
		    what,
		    name,
		    msg);
		break;
	case FST_ERROR_PERMISSION_DENIED:
		g_set_error(error,
		            FST_ERROR,
		            code,
		            "%s %s: %s: add the station user to the dialout group",
		            what,
		            name,
		            msg);
		break;
	case FST_ERROR_BUSY:
		g_set_error(error,
		            FST_ERROR,
		            code,
		            "%s %s: %s: another program has the port open",
		            what,
		            name,
		            msg);
		break;
	case FST_ERROR_DISCONNECTED:
		g_set_error(error,
		            FST_ERROR,
		            code,
		            "%s %s: %s: the device was unplugged or reset; check the cable",
		            what,
		            name,
		            msg);
		break;
	default:
		if (errsv == EMFILE || errsv == ENFILE) {
			struct rlimit limit = {0};
			getrlimit(RLIMIT_NOFILE, &limit);
			g_set_error(error,
			            FST_ERROR,
			            code,
			            "%s %s: %s: the station has too many files open (its limit "
			            "is %lu): run fewer ports at once, or raise the limit of "
			            "open files (ulimit -n, LimitNOFILE= of a service)",
			            what,
			            name,
			            msg,
			            (gulong)limit.rlim_cur);
			break;
		}
		g_set_error(error, FST_ERROR, code, "%s %s: %s", what, name, msg);
		break;
	}
}

/* makes the name libserialport 0.1.1 accepts for a pty: see the top comment */
static gchar *
fst_serial_transport_pty_port_name(FstSerialTransport *self, const gchar *path, GError **error)
{
	g_autofree gchar *target = g_canonicalize_filename(path, NULL);
	g_autoptr(GError) error_local = NULL;
	GStatBuf st;

	/* a link of its own costs a directory, a link and their removal on the
	 * disk for every device: a gang of simulators feels it */
	if (g_lstat(target, &st) == 0 && S_ISLNK(st.st_mode))
		return g_strdup_printf("/dev/../../..%s", target);
	self->link_dir = g_dir_make_tmp("fleetstation-pty-XXXXXX", &error_local);
	if (self->link_dir == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "cannot make a link directory for %s: %s",
		            path,
		            error_local->message);
		return NULL;
	}
	self->link = g_build_filename(self->link_dir, "port", NULL);
	if (symlink(target, self->link) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "cannot link %s to %s: %s",
		            self->link,
		            target,
		            g_strerror(errno));
		return NULL;
	}
	return g_strdup_printf("/dev/../../..%s", self->link);
}

static void
fst_serial_transport_remove_link(FstSerialTransport *self)
{
	if (self->link != NULL) {
		g_unlink(self->link);
		g_clear_pointer(&self->link, g_free);
	}
	if (self->link_dir != NULL) {
		g_rmdir(self->link_dir);
		g_clear_pointer(&self->link_dir, g_free);
	}
}

static gboolean
fst_serial_transport_configure(FstSerialTransport *self, GError **error)
{
	guint baud = fst_transport_get_baud_rate(FST_TRANSPORT(self));
	enum sp_return rc;

	if (baud > 0 && (rc = sp_set_baudrate(self->port, (int)baud)) != SP_OK) {
		fst_serial_transport_set_error(self, rc, "setting the baud rate of", error);
		return FALSE;
	}
	if ((rc = sp_set_bits(self->port, 8)) != SP_OK ||
	    (rc = sp_set_parity(self->port, SP_PARITY_NONE)) != SP_OK ||
	    (rc = sp_set_stopbits(self->port, 1)) != SP_OK ||
	    (rc = sp_set_flowcontrol(self->port, SP_FLOWCONTROL_NONE)) != SP_OK) {
		fst_serial_transport_set_error(self, rc, "configuring 8N1 on", error);
		return FALSE;
	}
	return TRUE;
}

static gboolean
fst_serial_transport_open(FstTransport *transport, GError **error)
{
	FstSerialTransport *self = FST_SERIAL_TRANSPORT(transport);
	const gchar *path = fst_transport_get_name(transport);
	g_autofree gchar *sp_name = NULL;
	enum sp_return rc;
	gboolean ok;

	self->is_pty = fst_serial_transport_path_is_pty(path);
	if (self->is_pty) {
		sp_name = fst_serial_transport_pty_port_name(self, path, error);
		if (sp_name == NULL) {
			fst_serial_transport_remove_link(self);
			return FALSE;
		}
	} else {
		sp_name = g_strdup(path);
	}
	rc = sp_get_port_by_name(sp_name, &self->port);
	if (rc != SP_OK) {
		/* libserialport says only "invalid argument" for a port that is not there */
		if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_NOT_FOUND,
			            "serial port %s does not exist: is the device plugged in? "
			            "(`fleetstation ports` lists ports)",
			            path);
		} else {
			fst_serial_transport_set_error(self, rc, "finding serial port", error);
		}
		fst_serial_transport_remove_link(self);
		return FALSE;
	}
	_fst_pty_shim_enter();
	rc = sp_open(self->port, SP_MODE_READ_WRITE);
	ok = rc == SP_OK;
	if (!ok)
		fst_serial_transport_set_error(self, rc, "opening serial port", error);
	else
		ok = fst_serial_transport_configure(self, error);
	_fst_pty_shim_leave();
	if (!ok) {
		if (rc == SP_OK)
			sp_close(self->port);
		g_clear_pointer(&self->port, sp_free_port);
		fst_serial_transport_remove_link(self);
		return FALSE;
	}
	/* whatever was pending from before is not for us */
	sp_flush(self->port, SP_BUF_BOTH);
	/* the port is open and configured: libserialport works on the descriptor
	 * from now on, so the pty's name link goes at once, and a station killed
	 * while it works leaves nothing behind in the temporary directory */
	fst_serial_transport_remove_link(self);
	g_debug("opened %s%s", path, self->is_pty ? " (pseudo-terminal)" : "");
	return TRUE;
}

static void
fst_serial_transport_close(FstTransport *transport)
{
	FstSerialTransport *self = FST_SERIAL_TRANSPORT(transport);
	if (self->port != NULL) {
		sp_close(self->port);
		g_clear_pointer(&self->port, sp_free_port);
	}
	fst_serial_transport_remove_link(self);
}

/* waits until the port is ready for @events (POLLIN, POLLOUT), @deadline
 * (monotonic) passes or @cancellable is cancelled; poll(), never
 * libserialport's blocking calls, whose select() aborts the process for a
 * descriptor of FD_SETSIZE (1024) or more: a gang of a few hundred ports
 * has such descriptors. Returns the port's revents (0 when the time is up),
 * or -1 with @error set when cancelled */
static gint
fst_serial_transport_wait(FstSerialTransport *self,
                          gshort events,
                          gint64 deadline,
                          GCancellable *cancellable,
                          GError **error)
{
	struct pollfd pfd[2] = {{.events = events}, {.fd = -1, .events = POLLIN}};
	GPollFD cancel_pfd = {.fd = -1};
	gboolean have_cancel_fd;
	gint rc;

	if (sp_get_port_handle(self->port, &pfd[0].fd) != SP_OK) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "%s: libserialport gave no descriptor for the port",
		            fst_transport_get_name(FST_TRANSPORT(self)));
		return -1;
	}
	have_cancel_fd = g_cancellable_make_pollfd(cancellable, &cancel_pfd);
	pfd[1].fd = cancel_pfd.fd;
	do {
		gint64 left_ms = (deadline - g_get_monotonic_time() + 999) / 1000;
		rc = poll(pfd, have_cancel_fd ? 2 : 1, (gint)CLAMP(left_ms, 0, G_MAXINT));
	} while (rc < 0 && errno == EINTR);
	if (have_cancel_fd)
		g_cancellable_release_fd(cancellable);
	if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
		fst_error_convert_gio(error);
		return -1;
	}
	if (rc < 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "waiting for %s: %s",
		            fst_transport_get_name(FST_TRANSPORT(self)),
		            g_strerror(errno));
		return -1;
	}
	return rc == 0 ? 0 : pfd[0].revents;
}

static void
fst_serial_transport_set_hung_up(FstSerialTransport *self, const gchar *what, GError **error)
{
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_DISCONNECTED,
	            "%s %s: the line hung up: the device was unplugged or reset; check the "
	            "cable",
	            what,
	            fst_transport_get_name(FST_TRANSPORT(self)));
}

static gssize
fst_serial_transport_read(FstTransport *transport,
                          guint8 *buf,
                          gsize len,
                          guint timeout_ms,
                          GCancellable *cancellable,
                          GError **error)
{
	FstSerialTransport *self = FST_SERIAL_TRANSPORT(transport);
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	gint revents = 0;

	for (;;) {
		enum sp_return rc = sp_nonblocking_read(self->port, buf, len);
		if (rc > 0)
			return (gssize)rc;
		if (rc < 0) {
			fst_serial_transport_set_error(self, rc, "reading from", error);
			return -1;
		}
		/* nothing to read after poll() said the line hung up: a tty at
		 * its end of file (libserialport 0.1.1 reads that as "no data") */
		if ((revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
			fst_serial_transport_set_hung_up(self, "reading from", error);
			return -1;
		}
		if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
			fst_error_convert_gio(error);
			return -1;
		}
		if (g_get_monotonic_time() >= deadline)
			break;
		revents = fst_serial_transport_wait(self, POLLIN, deadline, cancellable, error);
		if (revents < 0)
			return -1;
	}
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_TIMED_OUT,
	            "no answer from the device on %s within %u ms",
	            fst_transport_get_name(transport),
	            timeout_ms);
	return -1;
}

static gboolean
fst_serial_transport_write(FstTransport *transport,
                           const guint8 *buf,
                           gsize len,
                           guint timeout_ms,
                           GCancellable *cancellable,
                           GError **error)
{
	FstSerialTransport *self = FST_SERIAL_TRANSPORT(transport);
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	gsize done = 0;

	/* a frame nearly always fits in the kernel's buffer at once: one write() */
	for (;;) {
		gint revents;
		enum sp_return rc = sp_nonblocking_write(self->port, buf + done, len - done);
		/* libserialport 0.1.1 passes a full buffer's EAGAIN on as a failure */
		if (rc == SP_ERR_FAIL && sp_last_error_code() == EAGAIN)
			rc = 0;
		if (rc < 0) {
			fst_serial_transport_set_error(self, rc, "writing to", error);
			return FALSE;
		}
		done += (gsize)rc;
		if (done == len)
			return TRUE;
		if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
			fst_error_convert_gio(error);
			return FALSE;
		}
		if (g_get_monotonic_time() >= deadline)
			break;
		revents = fst_serial_transport_wait(self, POLLOUT, deadline, cancellable, error);
		if (revents < 0)
			return FALSE;
		if ((revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
			fst_serial_transport_set_hung_up(self, "writing to", error);
			return FALSE;
		}
	}
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_TIMED_OUT,
	            "writing to %s: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
	            " bytes written within %u ms: the device takes no more; is it stalled?",
	            fst_transport_get_name(transport),
	            done,
	            len,
	            timeout_ms);
	return FALSE;
}

/**
 * fst_serial_transport_is_pty:
 * @self: an #FstSerialTransport
 *
 * Returns: %TRUE if the open port is a pseudo-terminal (a simulated device)
 */
gboolean
fst_serial_transport_is_pty(FstSerialTransport *self)
{
	g_return_val_if_fail(FST_IS_SERIAL_TRANSPORT(self), FALSE);
	return self->is_pty;
}

static void
fst_serial_transport_finalize(GObject *object)
{
	FstSerialTransport *self = FST_SERIAL_TRANSPORT(object);
	if (self->port != NULL) {
		sp_close(self->port);
		sp_free_port(self->port);
	}
	fst_serial_transport_remove_link(self);
	G_OBJECT_CLASS(fst_serial_transport_parent_class)->finalize(object);
}

static void
fst_serial_transport_init(FstSerialTransport *self)
{
}

static void
fst_serial_transport_class_init(FstSerialTransportClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	FstTransportClass *transport_class = FST_TRANSPORT_CLASS(klass);
	object_class->finalize = fst_serial_transport_finalize;
	transport_class->open = fst_serial_transport_open;
	transport_class->close = fst_serial_transport_close;
	transport_class->read = fst_serial_transport_read;
	transport_class->write = fst_serial_transport_write;
}

/**
 * fst_serial_transport_new:
 * @port: the port path, e.g. "/dev/ttyUSB0" or a pty such as "/dev/pts/3"
 * @baud_rate: bits per second, e.g. 115200; 0 leaves the port's setting
 *
 * Makes a transport for @port; nothing is opened until fst_transport_open().
 *
 * Returns: (transfer full): a new #FstTransport
 */
FstTransport *
fst_serial_transport_new(const gchar *port, guint baud_rate)
{
	FstTransport *self = g_object_new(FST_TYPE_SERIAL_TRANSPORT, NULL);
	fst_transport_set_name(self, port);
	fst_transport_set_baud_rate(self, baud_rate);
	return self;
}
