/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ports and workspace defaults: the known-devices table, serial ports and USB
 * devices seen through libserialport and libusb on umockdev's emulated sysfs
 * (run under umockdev-wrapper), the port lock, and station.conf [defaults].
 */

#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <termios.h>
#include <umockdev.h>
#include <string.h>
#include <unistd.h>

#include "fst-error.h"
#include "fst-gang.h"
#include "fst-ports.h"
#include "fst-settings.h"
#include "fst-station.h"
#include "fst-watch.h"

/* a CP2102 adapter (known) and a Prolific one (not in the table) */
static const gchar *fst_test_ttys =
    "P: /devices/pci0000:00/0000:00:14.0/usb1/1-3\n"
    "N: bus/usb/001/004\n"
    "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DEVNAME=/dev/bus/usb/001/004\n"
    "E: BUSNUM=001\nE: DEVNUM=004\nE: MAJOR=189\nE: MINOR=3\n"
    "A: busnum=1\nA: devnum=4\nA: speed=12\nA: idVendor=10c4\nA: idProduct=ea60\n"
    "A: bConfigurationValue=1\nA: bNumConfigurations=1\n"
    "H: descriptors=12010002000000"
    "40c41060ea000101020301"
    "09022000010100803209040000"
    "02ff0000000705010200020007058102000200\n"
    "A: manufacturer=Silicon Labs\nA: product=CP2102 USB to UART Bridge Controller\n"
    "A: serial=FIX-0001\n"
    "\n"
    "P: /devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0\n"
    "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_interface\nA: bInterfaceNumber=00\n"
    "\n"
    "P: /devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/ttyUSB0\n"
    "E: SUBSYSTEM=usb-serial\nE: DRIVER=cp210x\n"
    "\n"
    "P: /devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/ttyUSB0/tty/ttyUSB0\n"
    "L: device=../../../ttyUSB0\n"
    "N: ttyUSB0\n"
    "E: SUBSYSTEM=tty\nE: DEVNAME=/dev/ttyUSB0\nE: MAJOR=188\nE: MINOR=0\n"
    "A: dev=188:0\n"
    "\n"
    "P: /devices/pci0000:00/0000:00:14.0/usb1/1-4\n"
    "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: BUSNUM=001\nE: DEVNUM=005\n"
    "A: busnum=1\nA: devnum=5\nA: idVendor=067b\nA: idProduct=2303\n"
    "A: manufacturer=Prolific\nA: product=USB-Serial Controller\nA: serial=PL-9\n"
    "\n"
    "P: /devices/pci0000:00/0000:00:14.0/usb1/1-4/1-4:1.0\n"
    "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_interface\nA: bInterfaceNumber=00\n"
    "\n"
    "P: /devices/pci0000:00/0000:00:14.0/usb1/1-4/1-4:1.0/ttyUSB1\n"
    "E: SUBSYSTEM=usb-serial\nE: DRIVER=pl2303\n"
    "\n"
    "P: /devices/pci0000:00/0000:00:14.0/usb1/1-4/1-4:1.0/ttyUSB1/tty/ttyUSB1\n"
    "L: device=../../../ttyUSB1\n"
    "N: ttyUSB1\n"
    "E: SUBSYSTEM=tty\nE: DEVNAME=/dev/ttyUSB1\nE: MAJOR=188\nE: MINOR=1\n"
    "A: dev=188:1\n";

/* a pid.codes board (vendor 1209, known by the vendor's "*" entry) and a
 * mouse (vendor 046d, not known: libusb must not list it) */
static const gchar *fst_test_usb =
    "P: /devices/pci0000:00/0000:00:14.0/usb2/2-1\n"
    "N: bus/usb/002/002\n"
    "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DEVNAME=/dev/bus/usb/002/002\n"
    "E: DRIVER=usb\nE: BUSNUM=002\nE: DEVNUM=002\nE: MAJOR=189\nE: MINOR=129\n"
    "A: busnum=2\nA: devnum=2\nA: speed=480\nA: idVendor=1209\nA: idProduct=0001\n"
    "A: bConfigurationValue=1\nA: bNumConfigurations=1\n"
    "A: manufacturer=FleetTest\nA: product=Fake Provisioning Target\nA: serial=SN-000042\n"
    "H: descriptors=12010002000000400912010000010102030109022000010100803209040000"
    "02ff0000000705010200020007058102000200\n"
    "\n"
    "P: /devices/pci0000:00/0000:00:14.0/usb2/2-2\n"
    "N: bus/usb/002/003\n"
    "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\nE: DEVNAME=/dev/bus/usb/002/003\n"
    "E: DRIVER=usb\nE: BUSNUM=002\nE: DEVNUM=003\nE: MAJOR=189\nE: MINOR=130\n"
    "A: busnum=2\nA: devnum=3\nA: speed=12\nA: idVendor=046d\nA: idProduct=c52b\n"
    "A: bConfigurationValue=1\nA: bNumConfigurations=1\n"
    "H: descriptors=1201000200000040"
    "6d042bc50000010203010902200001010080320904000002ff0000000705010200020007058102000200\n";

static FstKnownDevices *
fst_test_known(void)
{
	g_autoptr(GError) error = NULL;
	FstKnownDevices *known = fst_known_devices_load_default(&error);
	g_assert_no_error(error);
	g_assert_nonnull(known);
	return known;
}

static void
fst_ports_known_lookup(void)
{
	g_autoptr(FstKnownDevices) known = fst_test_known();
	const gchar *desc = NULL;

	g_assert_cmpstr(fst_known_devices_lookup(known, 0x10c4, 0xea60, &desc), ==, "fsp");
	g_assert_cmpstr(desc, ==, "Silicon Labs CP210x USB to UART bridge");
	/* the vendor's "*" entry */
	g_assert_cmpstr(fst_known_devices_lookup(known, 0x1209, 0xbeef, &desc), ==, "fsp");
	g_assert_true(g_str_has_prefix(desc, "pid.codes"));
	g_assert_null(fst_known_devices_lookup(known, 0x067b, 0x2303, NULL));
	g_assert_null(fst_known_devices_lookup(known, -1, -1, NULL));
	g_assert_true(fst_known_devices_has_vendor(known, 0x0403));
	g_assert_false(fst_known_devices_has_vendor(known, 0x046d));
}

static void
fst_ports_known_exact_wins(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-ports-XXXXXX", NULL);
	g_autofree gchar *path = g_build_filename(dir, "t.conf", NULL);
	g_autoptr(FstKnownDevices) known = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *desc = NULL;

	g_assert_true(g_file_set_contents(path,
	                                  "[usb abcd:*]\ndialect=fsp\ndescription=any\n"
	                                  "[usb abcd:0002]\ndialect=fsp\ndescription=exact\n",
	                                  -1,
	                                  NULL));
	known = fst_known_devices_load(path, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(fst_known_devices_lookup(known, 0xabcd, 2, &desc), ==, "fsp");
	g_assert_cmpstr(desc, ==, "exact");
	g_assert_cmpstr(fst_known_devices_lookup(known, 0xabcd, 3, &desc), ==, "fsp");
	g_assert_cmpstr(desc, ==, "any");
	g_unlink(path);
	g_rmdir(dir);
}

static void
fst_ports_known_rejects(void)
{
	const struct {
		const gchar *text;
		const gchar *needle;
	} cases[] = {
	    {"[usb 10C4:ea60]\ndialect=fsp\n", "[usb 10C4:ea60]"},
	    {"[usb 10c4]\ndialect=fsp\n", "[usb 10c4]"},
	    {"[serial 10c4:ea60]\ndialect=fsp\n", "[serial 10c4:ea60]"},
	    {"[usb 10c4:ea6]\ndialect=fsp\n", "[usb 10c4:ea6]"},
	    {"[usb 10c4:ea60]\ndescription=x\n", "dialect"},
	    {"[usb 10c4:ea60]\ndialect=modbus\n", "modbus"},
	    {"not a key file", "cannot read"},
	};
	g_autofree gchar *dir = g_dir_make_tmp("fst-ports-XXXXXX", NULL);
	g_autofree gchar *path = g_build_filename(dir, "bad.conf", NULL);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(FstKnownDevices) known = NULL;
		g_assert_true(g_file_set_contents(path, cases[i].text, -1, NULL));
		known = fst_known_devices_load(path, &error);
		g_assert_null(known);
		g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
		g_assert_nonnull(strstr(error->message, cases[i].needle));
		g_assert_nonnull(strstr(error->message, path));
	}
	g_unlink(path);
	g_rmdir(dir);
}

static FstPortInfo *
fst_test_find(GPtrArray *ports, const gchar *name)
{
	for (guint i = 0; i < ports->len; i++) {
		FstPortInfo *p = g_ptr_array_index(ports, i);
		if (g_strcmp0(p->name, name) == 0)
			return p;
	}
	return NULL;
}

static void
fst_ports_serial_umockdev(void)
{
	g_autoptr(UMockdevTestbed) tb = umockdev_testbed_new();
	g_autoptr(FstKnownDevices) known = fst_test_known();
	g_autoptr(GPtrArray) ports = NULL;
	g_autoptr(GPtrArray) again = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(FstPortLock) lock = NULL;
	g_autoptr(FstPortLock) second = NULL;
	FstPortInfo *p;

	g_assert_true(umockdev_testbed_add_from_string(tb, fst_test_ttys, &error));
	g_assert_no_error(error);

	ports = fst_ports_list_serial(known, &error);
	g_assert_no_error(error);
	p = fst_test_find(ports, "/dev/ttyUSB0");
	g_assert_nonnull(p);
	g_assert_cmpint(p->kind, ==, FST_PORT_KIND_SERIAL);
	g_assert_cmpstr(p->transport, ==, "usb");
	g_assert_cmpint(p->vid, ==, 0x10c4);
	g_assert_cmpint(p->pid, ==, 0xea60);
	g_assert_cmpstr(p->serial, ==, "FIX-0001");
	g_assert_cmpstr(p->dialect, ==, "fsp");
	g_assert_nonnull(p->description);
	g_assert_false(p->busy);
	/* an adapter the table does not know: listed, with no dialect */
	p = fst_test_find(ports, "/dev/ttyUSB1");
	g_assert_nonnull(p);
	g_assert_cmpint(p->vid, ==, 0x067b);
	g_assert_null(p->dialect);

	/* the station's lock makes the port busy, for `ports` and for a second
	 * lock; a line's listing does not open ports to find that out */
	lock = fst_port_lock("/dev/ttyUSB0", &error);
	g_assert_no_error(error);
	g_assert_nonnull(lock);
	again = fst_ports_list_serial(known, &error);
	g_assert_no_error(error);
	p = fst_test_find(again, "/dev/ttyUSB0");
	g_assert_false(p->busy);
	fst_ports_check_busy(again);
	g_assert_true(p->busy);
	g_assert_cmpstr(p->busy_reason, ==, "locked by another lane of this station");
	g_assert_false(fst_test_find(again, "/dev/ttyUSB1")->busy);
	second = fst_port_lock("/dev/ttyUSB0", &error);
	g_assert_null(second);
	g_assert_error(error, FST_ERROR, FST_ERROR_BUSY);
	g_assert_nonnull(strstr(error->message, "/dev/ttyUSB0"));
	g_clear_error(&error);
	g_clear_pointer(&lock, fst_port_unlock);
	g_assert_false(fst_port_is_busy("/dev/ttyUSB0", NULL));

	/* a port that is not there */
	second = fst_port_lock("/dev/ttyUSB7", &error);
	g_assert_null(second);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
}

typedef struct {
	const gchar *path;
	gint stop;
	gint checks;
} FstTestChecker;

/* `fleetstation ports` run again and again beside a line */
static gpointer
fst_test_checker_thread(gpointer data)
{
	FstTestChecker *c = data;
	while (!g_atomic_int_get(&c->stop)) {
		(void)fst_port_is_busy(c->path, NULL);
		g_atomic_int_inc(&c->checks);
	}
	return NULL;
}

/* the opens of @path the inotify watch @ifd saw since its last read */
static guint
fst_test_opens_seen(gint ifd)
{
	guint opens = 0;
	gchar buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	gssize len;

	while ((len = read(ifd, buf, sizeof(buf))) > 0) {
		for (gchar *p = buf; p < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			if (ev->mask & IN_OPEN)
				opens++;
			p += sizeof(*ev) + ev->len;
		}
	}
	return opens;
}

/* whether a port is busy is found out without opening it (which would raise
 * DTR and reset an auto-reset board), so that a listing beside a line never
 * turns a lane away; it names who holds the port: a station's lock, another
 * process that has it open */
static void
fst_ports_busy_without_opening(void)
{
	g_autoptr(GError) error = NULL;
	FstTestChecker checker = {0};
	GThread *threads[2];
	gint master, slave, ifd;
	g_autofree gchar *path = NULL;
	g_autofree gchar *reason = NULL;
	g_autofree gchar *expect = NULL;
	g_auto(GStrv) argv = g_strsplit("sleep 60", " ", -1);
	GPid child = 0;
	guint taken = 0;

	g_assert_cmpint(openpty(&master, &slave, NULL, NULL, NULL), ==, 0);
	path = g_strdup(ttyname(slave));
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	g_assert_cmpint(ifd, >=, 0);
	g_assert_cmpint(inotify_add_watch(ifd, path, IN_OPEN), >=, 0);

	/* free, and not opened to find out */
	g_assert_false(fst_port_is_busy(path, &reason));
	g_assert_null(reason);
	g_assert_cmpuint(fst_test_opens_seen(ifd), ==, 0);

	/* a lane takes the port again and again while listings run */
	checker.path = path;
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
		threads[i] = g_thread_new("checker", fst_test_checker_thread, &checker);
	for (guint i = 0; i < 1000; i++) {
		FstPortLock *lock = fst_port_lock(path, &error);
		g_assert_no_error(error);
		g_assert_nonnull(lock);
		fst_port_unlock(lock);
		taken++;
	}
	g_atomic_int_set(&checker.stop, 1);
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
		g_thread_join(threads[i]);
	g_test_message("%u locks taken beside %d checks", taken, checker.checks);
	g_assert_cmpint(checker.checks, >, 0);

	/* held by another lane of this station: busy at once, for a lane and
	 * for a listing */
	{
		g_autoptr(FstPortLock) held = fst_port_lock(path, &error);
		FstPortLock *second;
		g_assert_no_error(error);
		second = fst_port_lock(path, &error);
		g_assert_null(second);
		g_assert_error(error, FST_ERROR, FST_ERROR_BUSY);
		g_assert_nonnull(strstr(error->message, "locked by another lane of this station"));
		g_clear_error(&error);
		(void)fst_test_opens_seen(ifd);
		g_assert_true(fst_port_is_busy(path, &reason));
		g_assert_cmpstr(reason, ==, "locked by another lane of this station");
		g_clear_pointer(&reason, g_free);
		g_assert_cmpuint(fst_test_opens_seen(ifd), ==, 0);
	}
	g_assert_false(fst_port_is_busy(path, NULL));

	/* locked by another process (another station, picocom): a lane turned
	 * away and a listing both name it */
	{
		g_autofree gchar *cmd = g_strdup_printf(
		    "python3 -c \"import fcntl, os, sys, time; fd = os.open(sys.argv[1], "
		    "os.O_RDWR | os.O_NOCTTY); fcntl.flock(fd, fcntl.LOCK_EX); "
		    "print('locked', flush=True); time.sleep(60)\" %s",
		    path);
		g_auto(GStrv) locker_argv = NULL;
		gint out_fd = -1;
		gchar line[16] = {0};
		FstPortLock *second;

		g_assert_true(g_shell_parse_argv(cmd, NULL, &locker_argv, &error));
		g_assert_true(
		    g_spawn_async_with_pipes(NULL,
		                             locker_argv,
		                             NULL,
		                             G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
		                             NULL,
		                             NULL,
		                             &child,
		                             NULL,
		                             &out_fd,
		                             NULL,
		                             &error));
		g_assert_no_error(error);
		g_assert_cmpint(read(out_fd, line, sizeof(line) - 1), >, 0);
		g_assert_true(g_str_has_prefix(line, "locked"));
		expect = g_strdup_printf("locked by python3 (process %d)", (gint)child);
		second = fst_port_lock(path, &error);
		g_assert_null(second);
		g_assert_error(error, FST_ERROR, FST_ERROR_BUSY);
		g_assert_nonnull(strstr(error->message, expect));
		g_clear_error(&error);
		(void)fst_test_opens_seen(ifd);
		g_assert_true(fst_port_is_busy(path, &reason));
		g_assert_cmpstr(reason, ==, expect);
		g_clear_pointer(&reason, g_free);
		g_clear_pointer(&expect, g_free);
		g_assert_cmpuint(fst_test_opens_seen(ifd), ==, 0);
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		g_spawn_close_pid(child);
		child = 0;
		close(out_fd);
	}
	g_assert_false(fst_port_is_busy(path, NULL));

	/* another program holding it open (a terminal program, a modem
	 * manager's probe): busy, named */
	g_assert_true(g_spawn_async_with_fds(NULL,
	                                     argv,
	                                     NULL,
	                                     G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
	                                     NULL,
	                                     NULL,
	                                     &child,
	                                     slave,
	                                     -1,
	                                     -1,
	                                     &error));
	g_assert_no_error(error);
	/* until the child has exec'd, it is this test under another pid */
	for (guint i = 0; i < 500; i++) {
		g_autofree gchar *comm = NULL;
		g_autofree gchar *file = g_strdup_printf("/proc/%d/comm", (gint)child);
		if (g_file_get_contents(file, &comm, NULL, NULL) && g_str_has_prefix(comm, "sleep"))
			break;
		g_usleep(10 * 1000);
	}
	(void)fst_test_opens_seen(ifd);
	g_assert_true(fst_port_is_busy(path, &reason));
	expect = g_strdup_printf("open in sleep (process %d)", (gint)child);
	g_assert_cmpstr(reason, ==, expect);
	g_assert_cmpuint(fst_test_opens_seen(ifd), ==, 0);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	g_spawn_close_pid(child);
	g_assert_false(fst_port_is_busy(path, NULL));

	close(ifd);
	close(slave);
	close(master);
}

static void
fst_ports_usb_umockdev(void)
{
	g_autoptr(UMockdevTestbed) tb = umockdev_testbed_new();
	g_autoptr(FstKnownDevices) known = fst_test_known();
	g_autoptr(GPtrArray) ports = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(FstPortLock) lock = NULL;
	FstPortInfo *p;

	g_assert_true(umockdev_testbed_add_from_string(tb, fst_test_usb, &error));
	g_assert_no_error(error);
	ports = fst_ports_list_usb(known, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(ports->len, ==, 1);
	p = g_ptr_array_index(ports, 0);
	g_assert_cmpint(p->kind, ==, FST_PORT_KIND_USB);
	g_assert_cmpstr(p->name, ==, "usb:002-002");
	g_assert_cmpint(p->vid, ==, 0x1209);
	g_assert_cmpint(p->pid, ==, 0x0001);
	g_assert_cmpstr(p->dialect, ==, "fsp");
	g_assert_true(g_str_has_prefix(p->description, "pid.codes"));

	/* a lane working on the board through its usbfs node makes it busy
	 * for `fleetstation ports` too */
	fst_ports_check_busy(ports);
	g_assert_false(p->busy);
	lock = fst_port_lock("usb:002-002", &error);
	g_assert_no_error(error);
	g_assert_nonnull(lock);
	fst_ports_check_busy(ports);
	g_assert_true(p->busy);
	g_assert_cmpstr(p->busy_reason, ==, "locked by another lane of this station");
	g_clear_pointer(&lock, fst_port_unlock);
	fst_ports_check_busy(ports);
	g_assert_false(p->busy);
	g_assert_null(p->busy_reason);
}

static void
fst_ports_settings_roundtrip(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-settings-XXXXXX", NULL);
	g_autofree gchar *conf = g_build_filename(dir, "station.conf", NULL);
	g_autoptr(FstSettings) empty = NULL;
	g_autoptr(FstSettings) loaded = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	g_auto(GStrv) ports = g_strsplit("/dev/ttyUSB0;/dev/ttyUSB1", ";", -1);
	g_autofree gchar *profile = g_strdup("aws-iot-ecc");
	g_autofree gchar *lot = g_strdup("LOT-7");
	FstSettings settings = {
	    .profile = profile,
	    .lot = lot,
	    .ports = ports,
	    .baud_rate = 921600,
	};

	/* no workspace: a clear error naming the file and what to run */
	empty = fst_settings_load(dir, &error);
	g_assert_null(empty);
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "fleetstation init"));
	g_clear_error(&error);

	g_assert_true(g_file_set_contents(conf, "[station]\nname=line-3\n", -1, NULL));
	empty = fst_settings_load(dir, &error);
	g_assert_no_error(error);
	g_assert_null(empty->profile);
	g_assert_null(empty->ports);
	g_assert_cmpuint(empty->baud_rate, ==, 0);

	g_assert_true(fst_settings_save(&settings, dir, &error));
	g_assert_no_error(error);
	loaded = fst_settings_load(dir, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(loaded->profile, ==, "aws-iot-ecc");
	g_assert_cmpstr(loaded->lot, ==, "LOT-7");
	g_assert_cmpuint(g_strv_length(loaded->ports), ==, 2);
	g_assert_cmpstr(loaded->ports[1], ==, "/dev/ttyUSB1");
	g_assert_cmpuint(loaded->baud_rate, ==, 921600);
	/* the station identity is kept */
	g_assert_true(g_file_get_contents(conf, &text, NULL, NULL));
	g_assert_nonnull(strstr(text, "name=line-3"));

	/* a wrong value is named */
	g_assert_true(
	    g_file_set_contents(conf, "[station]\nname=x\n[defaults]\nbaud=fast\n", -1, NULL));
	g_clear_pointer(&loaded, fst_settings_free);
	loaded = fst_settings_load(dir, &error);
	g_assert_null(loaded);
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "baud=fast"));
	g_unlink(conf);
	g_rmdir(dir);
}

/* copies bytes both ways between umockdev's side of the emulated
 * /dev/ttyUSB0 and the simulator's pty, as the CP2102 and its cable would */
typedef struct {
	int a;
	int b;
	gint stop;
} FstTestRelay;

static gpointer
fst_test_relay_thread(gpointer data)
{
	FstTestRelay *r = data;
	while (!g_atomic_int_get(&r->stop)) {
		struct pollfd pfd[2] = {{.fd = r->a, .events = POLLIN},
		                        {.fd = r->b, .events = POLLIN}};
		if (poll(pfd, 2, 50) <= 0)
			continue;
		for (guint i = 0; i < 2; i++) {
			guint8 buf[4096];
			gssize n;
			if ((pfd[i].revents & POLLIN) == 0)
				continue;
			n = read(pfd[i].fd, buf, sizeof(buf));
			for (gssize done = 0; n > 0 && done < n;) {
				gssize w =
				    write(i == 0 ? r->b : r->a, buf + done, (gsize)(n - done));
				if (w < 0 && errno != EAGAIN && errno != EINTR)
					break;
				if (w > 0)
					done += w;
			}
		}
	}
	return NULL;
}

/* a simulated device at the far end of the emulated /dev/ttyUSB0's cable */
typedef struct {
	GSubprocess *sim;
	FstTestRelay relay;
	GThread *thread;
} FstTestCable;

static void
fst_test_cable_plug(FstTestCable *c, UMockdevTestbed *tb, const gchar *dir, const gchar *uid)
{
	g_autofree gchar *storage = g_strdup_printf("%s/%s.bin", dir, uid);
	g_autoptr(GError) error = NULL;
	g_autoptr(GDataInputStream) in = NULL;
	g_autofree gchar *line = NULL;
	struct termios tio;

	c->relay.a = umockdev_testbed_get_dev_fd(tb, "/dev/ttyUSB0");
	g_assert_cmpint(c->relay.a, >=, 0);
	c->sim = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE,
	                          &error,
	                          g_getenv("FST_DEVSIM"),
	                          "--uid",
	                          uid,
	                          "--storage",
	                          storage,
	                          NULL);
	g_assert_no_error(error);
	in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(c->sim));
	line = g_data_input_stream_read_line(in, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(line, "READY /"));
	c->relay.b = g_open(line + 6, O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
	g_assert_cmpint(c->relay.b, >=, 0);
	g_assert_cmpint(tcgetattr(c->relay.b, &tio), ==, 0);
	cfmakeraw(&tio);
	g_assert_cmpint(tcsetattr(c->relay.b, TCSANOW, &tio), ==, 0);
	c->thread = g_thread_new("relay", fst_test_relay_thread, &c->relay);
}

static void
fst_test_cable_unplug(FstTestCable *c)
{
	g_atomic_int_set(&c->relay.stop, 1);
	g_thread_join(c->thread);
	close(c->relay.b);
	g_subprocess_send_signal(c->sim, SIGTERM);
	g_subprocess_wait(c->sim, NULL, NULL);
	g_object_unref(c->sim);
}

typedef struct {
	FstStation *station;
	FstProfile *profile;
	GCancellable *stop;
	GMutex lock;
	GPtrArray *ports; /* (element-type utf8): ports of the results */
	gchar *error;     /* first result's error */
	gboolean ok;
} FstTestWatch;

static void
fst_test_watch_result(const FstProvisionResult *result, gpointer user_data)
{
	FstTestWatch *t = user_data;
	g_mutex_lock(&t->lock);
	g_ptr_array_add(t->ports, g_strdup(result->port));
	if (t->error == NULL && result->error != NULL)
		t->error = g_strdup(result->error->message);
	g_mutex_unlock(&t->lock);
}

static gpointer
fst_test_watch_thread(gpointer data)
{
	FstTestWatch *t = data;
	g_autoptr(GError) error = NULL;
	/* a poll interval far longer than the test: only hotplug can wake it */
	FstWatchOptions options = {.baud_rate = 115200, .poll_ms = 60000, .stop = t->stop};
	t->ok =
	    fst_watch_run(t->station, t->profile, &options, NULL, fst_test_watch_result, t, &error);
	g_assert_no_error(error);
	return NULL;
}

static void
fst_watch_usb_hotplug(void)
{
	g_autoptr(UMockdevTestbed) tb = umockdev_testbed_new();
	g_autofree gchar *dir = g_dir_make_tmp("fst-watch-XXXXXX", NULL);
	g_autoptr(GError) error = NULL;
	FstTestWatch t = {0};
	FstTestCable cable = {0};
	GThread *thread;
	gint64 plugged;
	guint n = 0;

	/* a machine has some USB device before ours is plugged in */
	g_assert_true(umockdev_testbed_add_from_string(tb, fst_test_usb, &error));
	g_assert_no_error(error);
	g_unsetenv(FST_ENV_CA_PASSPHRASE);
	g_assert_true(fst_station_init_workspace(dir, "Watch Test", &error));
	g_assert_no_error(error);
	t.station = fst_station_open(dir, &error);
	g_assert_no_error(error);
	t.profile = fst_station_load_profile(t.station, "aws-iot-ecc", &error);
	g_assert_no_error(error);
	t.stop = g_cancellable_new();
	t.ports = g_ptr_array_new_with_free_func(g_free);
	g_mutex_init(&t.lock);

	thread = g_thread_new("watch", fst_test_watch_thread, &t);
	/* the first scan finds nothing; then the adapter is plugged in */
	g_usleep(500 * 1000);
	plugged = g_get_monotonic_time();
	g_assert_true(umockdev_testbed_add_from_string(tb, fst_test_ttys, &error));
	g_assert_no_error(error);
	fst_test_cable_plug(&cable, tb, dir, "HOT-0001");
	while (g_get_monotonic_time() - plugged < 20 * G_USEC_PER_SEC) {
		g_mutex_lock(&t.lock);
		n = t.ports->len;
		g_mutex_unlock(&t.lock);
		if (n > 0)
			break;
		g_usleep(20 * 1000);
	}
	g_cancellable_cancel(t.stop);
	g_thread_join(thread);
	fst_test_cable_unplug(&cable);
	g_assert_true(t.ok);

	/* the watch met the known adapter only (not the unknown one), woken by
	 * the hotplug event long before its 60 s poll, and provisioned the
	 * device behind it */
	g_assert_cmpuint(t.ports->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(t.ports, 0), ==, "/dev/ttyUSB0");
	g_assert_null(t.error);
	g_test_message("arrival provisioned %.2f s after the plug",
	               (gdouble)(g_get_monotonic_time() - plugged) / G_USEC_PER_SEC);
	{
		g_autoptr(FstDbDevice) dev =
		    fst_db_find_device(fst_station_get_db(t.station), "HOT-0001", &error);
		g_assert_no_error(error);
		g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
	}

	g_mutex_clear(&t.lock);
	g_ptr_array_unref(t.ports);
	g_free(t.error);
	g_object_unref(t.stop);
	fst_profile_free(t.profile);
	fst_station_unref(t.station);
	{
		g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", dir);
		g_assert_cmpint(system(cmd), ==, 0);
	}
}

/* provisioning through libserialport on umockdev's emulated CP2102
 * /dev/ttyUSB0 (found by its USB id, no pty name tricks), with a simulated
 * device on the other end of the cable */
static void
fst_ports_provision_ttyusb(void)
{
	g_autoptr(UMockdevTestbed) tb = umockdev_testbed_new();
	g_autofree gchar *dir = g_dir_make_tmp("fst-ttyusb-XXXXXX", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstStation) station = NULL;
	g_autoptr(FstProfile) profile = NULL;
	g_autoptr(GPtrArray) results = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	const gchar *ports[] = {"/dev/ttyUSB0", NULL};
	FstProvisionResult *r;
	FstTestCable cable = {0};

	g_assert_true(umockdev_testbed_add_from_string(tb, fst_test_ttys, &error));
	g_assert_no_error(error);
	fst_test_cable_plug(&cable, tb, dir, "USB-0001");

	g_unsetenv(FST_ENV_CA_PASSPHRASE);
	g_assert_true(fst_station_init_workspace(dir, "ttyUSB Test", &error));
	g_assert_no_error(error);
	station = fst_station_open(dir, &error);
	g_assert_no_error(error);
	profile = fst_station_load_profile(station, "aws-iot-ecc", &error);
	g_assert_no_error(error);
	results = fst_gang_provision(station, profile, ports, 115200, NULL, NULL, NULL);
	fst_test_cable_unplug(&cable);

	g_assert_cmpuint(results->len, ==, 1);
	r = g_ptr_array_index(results, 0);
	g_assert_no_error(r->error);
	g_assert_cmpstr(r->port, ==, "/dev/ttyUSB0");
	g_assert_cmpstr(r->uid, ==, "USB-0001");
	g_assert_nonnull(r->serial_hex);
	dev = fst_db_find_device(fst_station_get_db(station), "USB-0001", &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
	g_assert_cmpstr(dev->port, ==, "/dev/ttyUSB0");
	g_assert_cmpstr(dev->cert->serial_hex, ==, r->serial_hex);
	{
		g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", dir);
		g_assert_cmpint(system(cmd), ==, 0);
	}
}

/* jig lanes: a lane is a physical place (USB port path or adapter serial
 * number), whatever tty name the kernel gave the adapter */
static void
fst_ports_lanes_umockdev(void)
{
	g_autoptr(UMockdevTestbed) tb = umockdev_testbed_new();
	g_autoptr(FstKnownDevices) known = fst_test_known();
	g_autofree gchar *dir = g_dir_make_tmp("fst-lanes-XXXXXX", NULL);
	g_autofree gchar *conf = g_build_filename(dir, "station.conf", NULL);
	g_autoptr(GPtrArray) ports = NULL;
	g_autoptr(GPtrArray) usb = NULL;
	g_autoptr(FstLanes) lanes = NULL;
	g_autoptr(FstLanes) none = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *port5 = NULL;
	g_autofree gchar *port6 = NULL;
	g_autofree gchar *port7 = NULL;
	FstPortInfo *p;

	g_assert_true(umockdev_testbed_add_from_string(tb, fst_test_ttys, &error));
	g_assert_no_error(error);
	g_assert_true(umockdev_testbed_add_from_string(tb, fst_test_usb, &error));
	g_assert_no_error(error);
	g_assert_true(g_file_set_contents(
	    conf,
	    "[station]\nname=jig\n[lanes]\n5=1-3\n6=serial:PL-9\n7=1-9.4\n8=2-1\n",
	    -1,
	    &error));
	lanes = fst_lanes_load(dir, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(fst_lanes_get_size(lanes), ==, 4);

	ports = fst_ports_list_serial(known, &error);
	g_assert_no_error(error);
	fst_lanes_apply(lanes, ports);
	p = fst_test_find(ports, "/dev/ttyUSB0");
	g_assert_cmpstr(p->usb_path, ==, "1-3");
	g_assert_cmpstr(p->lane, ==, "5");
	p = fst_test_find(ports, "/dev/ttyUSB1");
	g_assert_cmpstr(p->lane, ==, "6");
	usb = fst_ports_list_usb(known, &error);
	g_assert_no_error(error);
	fst_lanes_apply(lanes, usb);
	p = fst_test_find(usb, "usb:002-002");
	g_assert_nonnull(p);
	g_assert_cmpstr(p->usb_path, ==, "2-1");
	g_assert_cmpstr(p->lane, ==, "8");

	/* the lane finds its port; an empty socket and an unbound lane are named */
	port5 = fst_lanes_resolve(lanes, ports, "5", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(port5, ==, "/dev/ttyUSB0");
	port6 = fst_lanes_resolve(lanes, ports, "6", &error);
	g_assert_cmpstr(port6, ==, "/dev/ttyUSB1");
	port7 = fst_lanes_resolve(lanes, ports, "7", &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "1-9.4"));
	g_assert_null(port7);
	g_clear_error(&error);
	g_assert_null(fst_lanes_resolve(lanes, ports, "9", &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_error(&error);

	/* a binding that names no place, and two lanes in one place */
	g_assert_true(g_file_set_contents(conf, "[lanes]\n5=ttyUSB0\n", -1, &error));
	g_assert_null(fst_lanes_load(dir, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "5=ttyUSB0"));
	g_clear_error(&error);
	g_assert_true(g_file_set_contents(conf, "[lanes]\n5=1-3\n6=1-3\n", -1, &error));
	g_assert_null(fst_lanes_load(dir, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_clear_error(&error);
	/* no workspace: no lanes */
	none = fst_lanes_load(NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(fst_lanes_get_size(none), ==, 0);
	g_unlink(conf);
	g_rmdir(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* not umockdev_in_mock_environment(): it caches FALSE when asked before a
	 * testbed exists */
	if (g_strstr_len(g_getenv("LD_PRELOAD"), -1, "umockdev") == NULL) {
		g_printerr("run this test under umockdev-wrapper\n");
		return 77;
	}
	g_test_add_func("/fst/ports/known/lookup", fst_ports_known_lookup);
	g_test_add_func("/fst/ports/known/exact-wins", fst_ports_known_exact_wins);
	g_test_add_func("/fst/ports/known/rejects-malformed", fst_ports_known_rejects);
	g_test_add_func("/fst/ports/serial/umockdev", fst_ports_serial_umockdev);
	g_test_add_func("/fst/ports/usb/umockdev", fst_ports_usb_umockdev);
	g_test_add_func("/fst/ports/busy/without-opening", fst_ports_busy_without_opening);
	g_test_add_func("/fst/ports/lanes/umockdev", fst_ports_lanes_umockdev);
	g_test_add_func("/fst/settings/roundtrip", fst_ports_settings_roundtrip);
	g_test_add_func("/fst/watch/usb-hotplug", fst_watch_usb_hotplug);
	g_test_add_func("/fst/ports/provision/ttyusb", fst_ports_provision_ttyusb);
	return g_test_run();
}
