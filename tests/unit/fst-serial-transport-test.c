/* SPDX-License-Identifier: Apache-2.0 */
/* FstSerialTransport on real pseudo-terminals, through libserialport */

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <termios.h>
#include <unistd.h>

#include "fst-error.h"
#include "fst-serial-transport.h"

typedef struct {
	int master;
	int slave;
	gchar *slave_path;
} FstPty;

static void
fst_pty_open(FstPty *pty)
{
	struct termios t;
	char name[128];
	cfmakeraw(&t);
	g_assert_cmpint(openpty(&pty->master, &pty->slave, name, &t, NULL), ==, 0);
	pty->slave_path = g_strdup(name);
}

static void
fst_pty_close(FstPty *pty)
{
	if (pty->master >= 0)
		close(pty->master);
	if (pty->slave >= 0)
		close(pty->slave);
	g_free(pty->slave_path);
}

static void
fst_serial_transport_roundtrip_test(void)
{
	FstPty pty = {-1, -1, NULL};
	g_autoptr(FstTransport) transport = NULL;
	g_autoptr(GError) error = NULL;
	const guint8 out[] = {0x00, 0x01, 0xfe, 0xff, '\n', '\r', 0x11, 0x13};
	guint8 buf[64] = {0};
	gssize n;
	gsize got = 0;

	fst_pty_open(&pty);
	transport = fst_serial_transport_new(pty.slave_path, 115200);
	g_assert_true(fst_transport_open(transport, &error));
	g_assert_no_error(error);
	g_assert_true(fst_serial_transport_is_pty(FST_SERIAL_TRANSPORT(transport)));

	/* station -> device: every byte value arrives unchanged (raw mode) */
	g_assert_true(fst_transport_write(transport, out, sizeof(out), 1000, NULL, &error));
	g_assert_no_error(error);
	while (got < sizeof(out)) {
		n = read(pty.master, buf + got, sizeof(buf) - got);
		g_assert_cmpint(n, >, 0);
		got += (gsize)n;
	}
	g_assert_cmpmem(buf, got, out, sizeof(out));

	/* device -> station */
	g_assert_cmpint(write(pty.master, "PONG", 4), ==, 4);
	got = 0;
	while (got < 4) {
		n = fst_transport_read(transport, buf + got, sizeof(buf) - got, 1000, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpint(n, >, 0);
		got += (gsize)n;
	}
	g_assert_cmpmem(buf, 4, "PONG", 4);
	g_assert_cmpuint(fst_transport_get_bytes_written(transport), ==, sizeof(out));
	g_assert_cmpuint(fst_transport_get_bytes_read(transport), ==, 4);

	fst_transport_close(transport);
	fst_pty_close(&pty);
}

static void
fst_serial_transport_timeout_test(void)
{
	FstPty pty = {-1, -1, NULL};
	g_autoptr(FstTransport) transport = NULL;
	g_autoptr(GError) error = NULL;
	guint8 buf[8];
	gint64 start;
	gssize n;

	fst_pty_open(&pty);
	transport = fst_serial_transport_new(pty.slave_path, 921600);
	g_assert_true(fst_transport_open(transport, &error));
	start = g_get_monotonic_time();
	n = fst_transport_read(transport, buf, sizeof(buf), 150, NULL, &error);
	g_assert_cmpint(n, ==, -1);
	g_assert_error(error, FST_ERROR, FST_ERROR_TIMED_OUT);
	g_assert_nonnull(strstr(error->message, pty.slave_path));
	/* it waited, and it did not wait forever */
	g_assert_cmpint(g_get_monotonic_time() - start, >=, 140 * 1000);
	fst_pty_close(&pty);
}

static void
fst_serial_transport_cancel_test(void)
{
	FstPty pty = {-1, -1, NULL};
	g_autoptr(FstTransport) transport = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	guint8 buf[8];

	fst_pty_open(&pty);
	transport = fst_serial_transport_new(pty.slave_path, 0);
	g_assert_true(fst_transport_open(transport, &error));
	g_cancellable_cancel(cancellable);
	g_assert_cmpint(
	    fst_transport_read(transport, buf, sizeof(buf), 5000, cancellable, &error), ==, -1);
	g_assert_error(error, FST_ERROR, FST_ERROR_CANCELLED);
	fst_pty_close(&pty);
}

typedef struct {
	int fd;
	gsize want;
	GByteArray *got;
} FstDrain;

/* reads @want bytes from the pty's master side, a little at a time */
static gpointer
fst_drain_thread(gpointer data)
{
	FstDrain *drain = data;
	guint8 buf[4096];
	while (drain->got->len < drain->want) {
		gssize n = read(drain->fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		g_byte_array_append(drain->got, buf, (guint)n);
		g_usleep(200);
	}
	return NULL;
}

static guint8 *
fst_test_pattern(gsize len)
{
	guint8 *data = g_malloc(len);
	for (gsize i = 0; i < len; i++)
		data[i] = (guint8)(i * 7 + i / 251);
	return data;
}

/* writes 256 KiB, more than the kernel's buffer holds, while a thread reads
 * the master side: the write waits for room, then finishes, and every byte
 * arrives in order */
static void
fst_test_write_drained(FstTransport *transport, int master)
{
	g_autoptr(GError) error = NULL;
	const gsize len = 256 * 1024;
	g_autofree guint8 *data = fst_test_pattern(len);
	FstDrain drain = {.fd = master, .want = len, .got = g_byte_array_new()};
	GThread *thread = g_thread_new("drain", fst_drain_thread, &drain);

	g_assert_true(fst_transport_write(transport, data, len, 20000, NULL, &error));
	g_assert_no_error(error);
	g_thread_join(thread);
	g_assert_cmpmem(drain.got->data, drain.got->len, data, len);
	g_byte_array_unref(drain.got);
}

static void
fst_serial_transport_write_waits_test(void)
{
	FstPty pty = {-1, -1, NULL};
	g_autoptr(FstTransport) transport = NULL;
	g_autoptr(GError) error = NULL;

	fst_pty_open(&pty);
	transport = fst_serial_transport_new(pty.slave_path, 921600);
	g_assert_true(fst_transport_open(transport, &error));
	fst_test_write_drained(transport, pty.master);
	fst_pty_close(&pty);
}

/* nobody reads: the write gives up at its time, saying how far it got */
static void
fst_serial_transport_write_timeout_test(void)
{
	FstPty pty = {-1, -1, NULL};
	g_autoptr(FstTransport) transport = NULL;
	g_autoptr(GError) error = NULL;
	const gsize len = 1024 * 1024;
	g_autofree guint8 *data = fst_test_pattern(len);

	fst_pty_open(&pty);
	transport = fst_serial_transport_new(pty.slave_path, 921600);
	g_assert_true(fst_transport_open(transport, &error));
	g_assert_false(fst_transport_write(transport, data, len, 200, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_TIMED_OUT);
	g_assert_nonnull(strstr(error->message, " of 1048576 bytes written within 200 ms"));
	g_assert_null(strstr(error->message, ": 0 of"));
	fst_pty_close(&pty);
}

static gpointer
fst_cancel_later_thread(gpointer data)
{
	g_usleep(50 * 1000);
	g_cancellable_cancel(G_CANCELLABLE(data));
	return NULL;
}

/* Ctrl-C while a port waits for its device: the read and the write end at
 * once, not at their time (10 s here) */
static void
fst_serial_transport_cancel_waiting_test(void)
{
	FstPty pty = {-1, -1, NULL};
	g_autoptr(FstTransport) transport = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	const gsize len = 1024 * 1024;
	g_autofree guint8 *data = fst_test_pattern(len);
	guint8 buf[8];
	GThread *thread;
	gint64 start;

	fst_pty_open(&pty);
	transport = fst_serial_transport_new(pty.slave_path, 0);
	g_assert_true(fst_transport_open(transport, &error));

	thread = g_thread_new("cancel", fst_cancel_later_thread, cancellable);
	start = g_get_monotonic_time();
	g_assert_cmpint(
	    fst_transport_read(transport, buf, sizeof(buf), 10000, cancellable, &error), ==, -1);
	g_assert_error(error, FST_ERROR, FST_ERROR_CANCELLED);
	g_assert_cmpint(g_get_monotonic_time() - start, <, 5 * G_USEC_PER_SEC);
	g_thread_join(thread);
	g_clear_error(&error);

	g_cancellable_reset(cancellable);
	thread = g_thread_new("cancel", fst_cancel_later_thread, cancellable);
	start = g_get_monotonic_time();
	g_assert_false(fst_transport_write(transport, data, len, 10000, cancellable, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CANCELLED);
	g_assert_cmpint(g_get_monotonic_time() - start, <, 5 * G_USEC_PER_SEC);
	g_thread_join(thread);
	fst_pty_close(&pty);
}

/* a port whose descriptor is FD_SETSIZE (1024) or more, as in a gang of a
 * few hundred ports: waiting on it must work (select() would abort the
 * process); run in a child, which holds a thousand descriptors */
static void
fst_serial_transport_high_descriptor_test(void)
{
	FstPty pty = {-1, -1, NULL};
	g_autoptr(FstTransport) transport = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GArray) fillers = g_array_new(FALSE, FALSE, sizeof(int));
	struct rlimit limit;
	guint8 buf[8];
	int fd;

	if (!g_test_subprocess()) {
		g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
		g_test_trap_assert_passed();
		return;
	}
	g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &limit), ==, 0);
	if (limit.rlim_max < FD_SETSIZE + 64) {
		g_test_skip("the hard limit of open files is under FD_SETSIZE + 64");
		return;
	}
	limit.rlim_cur = FD_SETSIZE + 64;
	g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &limit), ==, 0);
	fst_pty_open(&pty);
	/* every descriptor under FD_SETSIZE taken: the port gets one above */
	while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && fd < FD_SETSIZE)
		g_array_append_val(fillers, fd);
	g_assert_cmpint(fd, ==, FD_SETSIZE);
	close(fd);

	transport = fst_serial_transport_new(pty.slave_path, 115200);
	g_assert_true(fst_transport_open(transport, &error));
	g_assert_no_error(error);
	g_assert_cmpint(fst_transport_read(transport, buf, sizeof(buf), 100, NULL, &error), ==, -1);
	g_assert_error(error, FST_ERROR, FST_ERROR_TIMED_OUT);
	g_clear_error(&error);
	g_assert_cmpint(write(pty.master, "PONG", 4), ==, 4);
	g_assert_cmpint(fst_transport_read(transport, buf, sizeof(buf), 1000, NULL, &error), ==, 4);
	g_assert_no_error(error);
	g_assert_cmpmem(buf, 4, "PONG", 4);
	fst_test_write_drained(transport, pty.master);

	fst_transport_close(transport);
	for (guint i = 0; i < fillers->len; i++)
		close(g_array_index(fillers, int, i));
	fst_pty_close(&pty);
}

static void
fst_serial_transport_missing_port_test(void)
{
	g_autoptr(FstTransport) transport =
	    fst_serial_transport_new("/dev/ttyFLEETNOTHERE0", 115200);
	g_autoptr(GError) error = NULL;
	g_assert_false(fst_transport_open(transport, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "/dev/ttyFLEETNOTHERE0"));
}

static void
fst_serial_transport_not_open_test(void)
{
	g_autoptr(FstTransport) transport =
	    fst_serial_transport_new("/dev/ttyFLEETNOTHERE0", 115200);
	g_autoptr(GError) error = NULL;
	guint8 buf[4] = {0};
	g_assert_false(fst_transport_write(transport, buf, sizeof(buf), 100, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INTERNAL);
}

/* the device side goes away (a pulled cable, a simulator that died): the
 * station hears DISCONNECTED, not a silent hang */
static void
fst_serial_transport_unplugged_test(void)
{
	FstPty pty = {-1, -1, NULL};
	g_autoptr(FstTransport) transport = NULL;
	g_autoptr(GError) error = NULL;
	guint8 buf[8] = {0};

	fst_pty_open(&pty);
	transport = fst_serial_transport_new(pty.slave_path, 115200);
	g_assert_true(fst_transport_open(transport, &error));
	close(pty.master);
	pty.master = -1;
	g_assert_cmpint(fst_transport_read(transport, buf, sizeof(buf), 300, NULL, &error), ==, -1);
	g_assert_error(error, FST_ERROR, FST_ERROR_DISCONNECTED);
	g_assert_nonnull(strstr(error->message, "check the cable"));
	g_clear_error(&error);
	g_assert_false(fst_transport_write(transport, buf, sizeof(buf), 300, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_DISCONNECTED);
	fst_pty_close(&pty);
}

/* the pty help must not leak outside libserialport calls on ptys: a plain
 * TIOCMGET on a pty still fails as the kernel says */
static void
fst_serial_transport_shim_scoped_test(void)
{
	FstPty pty = {-1, -1, NULL};
	int bits = 0;
	fst_pty_open(&pty);
	g_assert_cmpint(ioctl(pty.slave, TIOCMGET, &bits), ==, -1);
	g_assert_true(errno == ENOTTY || errno == EINVAL);
	fst_pty_close(&pty);
}

/* the pty's name link lives only while the port opens: a station killed
 * while it works leaves nothing in the temporary directory */
static void
fst_serial_transport_no_link_left_test(void)
{
	FstPty pty = {-1, -1, NULL};
	g_autoptr(FstTransport) transport = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GDir) dir = NULL;

	fst_pty_open(&pty);
	transport = fst_serial_transport_new(pty.slave_path, 115200);
	g_assert_true(fst_transport_open(transport, &error));
	g_assert_no_error(error);
	dir = g_dir_open(g_get_tmp_dir(), 0, &error);
	g_assert_no_error(error);
	g_assert_null(g_dir_read_name(dir));
	fst_transport_close(transport);
	fst_pty_close(&pty);
}

int
main(int argc, char **argv)
{
	/* a temporary directory of its own, so that what the transport leaves is
	 * seen; set before GLib first reads TMPDIR */
	gchar tmp[] = "/tmp/fst-serial-transport-test-XXXXXX";
	g_assert_nonnull(mkdtemp(tmp));
	g_setenv("TMPDIR", tmp, TRUE);
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fst/serial-transport/no-link-left-while-open",
	                fst_serial_transport_no_link_left_test);
	g_test_add_func("/fst/serial-transport/roundtrip", fst_serial_transport_roundtrip_test);
	g_test_add_func("/fst/serial-transport/timeout", fst_serial_transport_timeout_test);
	g_test_add_func("/fst/serial-transport/cancel", fst_serial_transport_cancel_test);
	g_test_add_func("/fst/serial-transport/cancel-while-waiting",
	                fst_serial_transport_cancel_waiting_test);
	g_test_add_func("/fst/serial-transport/write-waits-for-room",
	                fst_serial_transport_write_waits_test);
	g_test_add_func("/fst/serial-transport/write-timeout",
	                fst_serial_transport_write_timeout_test);
	g_test_add_func("/fst/serial-transport/high-descriptor",
	                fst_serial_transport_high_descriptor_test);
	g_test_add_func("/fst/serial-transport/missing-port",
	                fst_serial_transport_missing_port_test);
	g_test_add_func("/fst/serial-transport/not-open", fst_serial_transport_not_open_test);
	g_test_add_func("/fst/serial-transport/unplugged", fst_serial_transport_unplugged_test);
	g_test_add_func("/fst/serial-transport/shim-scoped", fst_serial_transport_shim_scoped_test);
	{
		gint rc = g_test_run();
		g_rmdir(tmp);
		return rc;
	}
}
