/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ports: what is plugged into the station. Serial ports come from
 * libserialport (name, USB VID:PID, serial number, description); USB devices of
 * the vendors in the known-devices table come from libusb. The table
 * (templates/ports/known-devices.conf, see templates/ports/README.md) says
 * which dialect each speaks, so adding an adapter is a data change.
 *
 * Busy ports: the station takes an advisory flock() on a port while it works
 * on it (fst_port_lock()), and honours the UUCP lock files (/run/lock/LCK..X)
 * that minicom and friends leave. fst_port_is_busy() finds those, and any
 * other process holding the port open, from the OS's records: opening a
 * port raises DTR, which resets a board whose DTR line drives its reset
 * (ESP32, Arduino), so no listing opens a port; only the lane that works on
 * it does.
 */

#define G_LOG_DOMAIN "FstPorts"

#include "fst-ports.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <libusb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fst-dialect.h"
#include "fst-error.h"
#include "fst-file.h"
#include "fst-station.h"
#include "fst-usb-transport.h"

typedef struct {
	gint vid;
	gint pid; /* -1 for every product of the vendor */
	gchar *dialect;
	gchar *description;    /* (nullable) */
	gint interface_number; /* USB devices: the interface with FSP bulk endpoints, -1 any */
} FstKnownDevice;

struct _FstKnownDevices {
	GPtrArray *entries; /* (element-type FstKnownDevice) */
};

static void
fst_known_device_free(FstKnownDevice *entry)
{
	g_free(entry->dialect);
	g_free(entry->description);
	g_free(entry);
}

/**
 * fst_known_devices_free:
 * @self: (nullable): a table
 */
void
fst_known_devices_free(FstKnownDevices *self)
{
	if (self == NULL)
		return;
	g_ptr_array_unref(self->entries);
	g_free(self);
}

static gboolean
fst_known_devices_parse_hex16(const gchar *str, gint *out)
{
	guint64 value = 0;
	if (strlen(str) != 4)
		return FALSE;
	for (guint i = 0; i < 4; i++) {
		if (!g_ascii_isxdigit(str[i]) || g_ascii_isupper(str[i]))
			return FALSE;
	}
	if (!g_ascii_string_to_unsigned(str, 16, 0, 0xffff, &value, NULL))
		return FALSE;
	*out = (gint)value;
	return TRUE;
}

/**
 * fst_known_devices_load:
 * @path: a known-devices file
 * @error: (nullable): return location
 *
 * Parses the table (format in templates/ports/README.md).
 *
 * Returns: (transfer full): the table, or %NULL with %FST_ERROR_CONFIG naming
 * the file and the group that is wrong
 */
FstKnownDevices *
fst_known_devices_load(const gchar *path, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error_local = NULL;
	g_auto(GStrv) groups = NULL;
	FstKnownDevices *self;
	g_autoptr(GPtrArray) entries =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_known_device_free);

	if (!fst_file_load_key_file(kf, path, FST_FILE_MAX_CONF, G_KEY_FILE_NONE, &error_local)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "cannot read the known-devices table %s: %s",
		            path,
		            error_local->message);
		return NULL;
	}
	groups = g_key_file_get_groups(kf, NULL);
	for (guint i = 0; groups[i] != NULL; i++) {
		const gchar *group = groups[i];
		g_autofree gchar *dialect = g_key_file_get_string(kf, group, "dialect", NULL);
		g_auto(GStrv) ids = NULL;
		FstKnownDevice *entry;
		gint vid = 0;
		gint pid = -1;

		if (!g_str_has_prefix(group, "usb ") ||
		    (ids = g_strsplit(group + 4, ":", -1)) == NULL || g_strv_length(ids) != 2 ||
		    !fst_known_devices_parse_hex16(ids[0], &vid) ||
		    (g_strcmp0(ids[1], "*") != 0 && !fst_known_devices_parse_hex16(ids[1], &pid))) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s: group [%s] is not [usb vvvv:pppp] or [usb vvvv:*] "
			            "(lower-case hex)",
			            path,
			            group);
			return NULL;
		}
		/* the dialects this build can speak are those in the registry */
		if (dialect == NULL || !fst_dialect_lookup(dialect, NULL, NULL)) {
			g_auto(GStrv) names = fst_dialect_list();
			g_autofree gchar *known = g_strjoinv(", ", names);
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s: group [%s] needs a dialect this build speaks (%s), got %s",
			            path,
			            group,
			            known,
			            dialect != NULL ? dialect : "nothing");
			return NULL;
		}
		entry = g_new0(FstKnownDevice, 1);
		entry->vid = vid;
		entry->pid = pid;
		entry->dialect = g_steal_pointer(&dialect);
		entry->description = g_key_file_get_string(kf, group, "description", NULL);
		entry->interface_number = FST_USB_TRANSPORT_INTERFACE_AUTO;
		g_ptr_array_add(entries, entry);
		if (g_key_file_has_key(kf, group, "interface", NULL)) {
			g_autofree gchar *value =
			    g_key_file_get_string(kf, group, "interface", NULL);
			guint64 number = 0;
			if (value == NULL ||
			    !g_ascii_string_to_unsigned(value, 10, 0, 255, &number, NULL)) {
				g_set_error(error,
				            FST_ERROR,
				            FST_ERROR_CONFIG,
				            "%s: group [%s]: interface '%s' is not a USB interface "
				            "number from 0 to 255",
				            path,
				            group,
				            value != NULL ? value : "");
				return NULL;
			}
			entry->interface_number = (gint)number;
		}
	}
	self = g_new0(FstKnownDevices, 1);
	self->entries = g_steal_pointer(&entries);
	return self;
}

/**
 * fst_known_devices_load_default:
 * @error: (nullable): return location
 *
 * Returns: (transfer full): the table from the templates directory, or %NULL
 */
FstKnownDevices *
fst_known_devices_load_default(GError **error)
{
	g_autofree gchar *path =
	    g_build_filename(fst_station_templates_dir(), "ports", "known-devices.conf", NULL);
	return fst_known_devices_load(path, error);
}

/**
 * fst_known_devices_lookup:
 * @self: the table
 * @vid: a USB vendor id, or -1
 * @pid: a USB product id, or -1
 * @description: (out) (optional) (transfer none): the table's description
 *
 * An exact vendor:product entry wins over the vendor's `*` entry.
 *
 * Returns: (transfer none) (nullable): the dialect, or %NULL when unknown
 */
const gchar *
fst_known_devices_lookup(FstKnownDevices *self, gint vid, gint pid, const gchar **description)
{
	FstKnownDevice *wildcard = NULL;
	if (vid < 0)
		return NULL;
	for (guint i = 0; i < self->entries->len; i++) {
		FstKnownDevice *entry = g_ptr_array_index(self->entries, i);
		if (entry->vid != vid)
			continue;
		if (entry->pid == pid) {
			if (description != NULL)
				*description = entry->description;
			return entry->dialect;
		}
		if (entry->pid == -1 && wildcard == NULL)
			wildcard = entry;
	}
	if (wildcard == NULL)
		return NULL;
	if (description != NULL)
		*description = wildcard->description;
	return wildcard->dialect;
}

/**
 * fst_known_devices_lookup_interface:
 * @self: the table
 * @vid: a USB vendor id
 * @pid: a USB product id
 *
 * Returns: the USB interface whose bulk endpoints carry the device's frames
 *   (`interface=`), or %FST_USB_TRANSPORT_INTERFACE_AUTO
 */
gint
fst_known_devices_lookup_interface(FstKnownDevices *self, gint vid, gint pid)
{
	gint wildcard = FST_USB_TRANSPORT_INTERFACE_AUTO;
	for (guint i = 0; i < self->entries->len; i++) {
		FstKnownDevice *entry = g_ptr_array_index(self->entries, i);
		if (entry->vid != vid)
			continue;
		if (entry->pid == pid)
			return entry->interface_number;
		if (entry->pid == -1 && wildcard == FST_USB_TRANSPORT_INTERFACE_AUTO)
			wildcard = entry->interface_number;
	}
	return wildcard;
}

/* the vendor and product of the USB device at usb:BBB-AAA, -1 when absent */
static void
fst_ports_usb_id(const gchar *port, gint *vid, gint *pid)
{
	libusb_context *ctx = NULL;
	libusb_device **list = NULL;
	guint8 bus = 0;
	guint8 address = 0;
	gssize n;

	*vid = -1;
	*pid = -1;
	if (!fst_usb_transport_parse_port(port, &bus, &address) || libusb_init(&ctx) != 0)
		return;
	n = libusb_get_device_list(ctx, &list);
	for (gssize i = 0; i < n; i++) {
		struct libusb_device_descriptor desc;
		if (libusb_get_bus_number(list[i]) != bus ||
		    libusb_get_device_address(list[i]) != address ||
		    libusb_get_device_descriptor(list[i], &desc) != LIBUSB_SUCCESS)
			continue;
		*vid = desc.idVendor;
		*pid = desc.idProduct;
	}
	if (n >= 0)
		libusb_free_device_list(list, 1);
	libusb_exit(ctx);
}

/**
 * fst_known_devices_has_vendor:
 * @self: the table
 * @vid: a USB vendor id
 *
 * Returns: %TRUE if any entry names @vid
 */
gboolean
fst_known_devices_has_vendor(FstKnownDevices *self, gint vid)
{
	for (guint i = 0; i < self->entries->len; i++) {
		FstKnownDevice *entry = g_ptr_array_index(self->entries, i);
		if (entry->vid == vid)
			return TRUE;
	}
	return FALSE;
}

/* the USB id of the adapter behind a serial port, or -1 for a port that is
 * not on USB (a UART, a pty) */
static void
fst_ports_serial_usb_id(const gchar *port, gint *vid, gint *pid)
{
	struct sp_port *sp = NULL;
	int v = -1;
	int p = -1;

	*vid = -1;
	*pid = -1;
	if (sp_get_port_by_name(port, &sp) != SP_OK)
		return;
	if (sp_get_port_transport(sp) == SP_TRANSPORT_USB &&
	    sp_get_port_usb_vid_pid(sp, &v, &p) == SP_OK) {
		*vid = v;
		*pid = p;
	}
	sp_free_port(sp);
}

/**
 * fst_device_new_for_port:
 * @known: (nullable): the known-devices table
 * @port: a tty path, or `usb:BBB-AAA`
 * @dialect: (nullable): the dialect asked for (`--dialect`, or a profile
 *   key); %NULL to take the one @known gives the port's USB id, else
 *   %FST_DIALECT_DEFAULT
 * @baud_rate: the line rate
 * @error: (nullable): return location
 *
 * Makes the transport and the dialect's device for a port through the
 * dialect registry (fst-dialect.h). Nothing is opened yet.
 *
 * Returns: (transfer full) (nullable): the device, or %NULL with
 * %FST_ERROR_CONFIG (no such dialect) or %FST_ERROR_NOT_SUPPORTED (the
 * dialect does not run on this kind of port)
 */
FstDevice *
fst_device_new_for_port(FstKnownDevices *known,
                        const gchar *port,
                        const gchar *dialect,
                        guint baud_rate,
                        GError **error)
{
	const gchar *name = dialect;
	gint interface_number = FST_USB_TRANSPORT_INTERFACE_AUTO;
	FstDevice *device;

	g_return_val_if_fail(port != NULL, NULL);
	if (known != NULL && fst_transport_kind_for_port(port) == FST_TRANSPORT_KIND_SERIAL) {
		gint vid;
		gint pid;
		fst_ports_serial_usb_id(port, &vid, &pid);
		if (name == NULL)
			name = fst_known_devices_lookup(known, vid, pid, NULL);
	} else if (known != NULL) {
		/* a USB device's own interface: the dialect and which interface
		 * carries its frames are data in the table */
		gint vid;
		gint pid;
		fst_ports_usb_id(port, &vid, &pid);
		if (name == NULL)
			name = fst_known_devices_lookup(known, vid, pid, NULL);
		interface_number = fst_known_devices_lookup_interface(known, vid, pid);
	}
	if (name == NULL)
		name = FST_DIALECT_DEFAULT;
	device = fst_dialect_new_device(name, port, baud_rate, error);
	if (device != NULL && FST_IS_USB_TRANSPORT(fst_device_get_transport(device)))
		fst_usb_transport_set_interface(FST_USB_TRANSPORT(fst_device_get_transport(device)),
		                                interface_number);
	return device;
}

/**
 * fst_port_info_free:
 * @self: (nullable): a port description
 */
void
fst_port_info_free(FstPortInfo *self)
{
	if (self == NULL)
		return;
	g_free(self->name);
	g_free(self->transport);
	g_free(self->serial);
	g_free(self->description);
	g_free(self->dialect);
	g_free(self->busy_reason);
	g_free(self->usb_path);
	g_free(self->lane);
	g_free(self->denied);
	g_free(self);
}

/* what /proc/PID/comm says process @pid is, or "a process" */
static gchar *
fst_port_process_name(gint64 pid)
{
	g_autofree gchar *path = g_strdup_printf("/proc/%" G_GINT64_FORMAT "/comm", pid);
	g_autofree gchar *comm = NULL;

	if (pid <= 0 || !g_file_get_contents(path, &comm, NULL, NULL))
		return g_strdup("a process");
	g_strstrip(comm);
	if (comm[0] == '\0' || !g_utf8_validate(comm, -1, NULL))
		return g_strdup("a process");
	return g_steal_pointer(&comm);
}

/* a UUCP lock file (/run/lock/LCK..ttyUSB0) whose process still lives */
static gboolean
fst_port_uucp_locked(const gchar *path, gchar **reason)
{
	g_autofree gchar *base = g_path_get_basename(path);
	const gchar *dirs[] = {"/run/lock", "/var/lock"};

	for (guint i = 0; i < G_N_ELEMENTS(dirs); i++) {
		g_autofree gchar *lck = g_strdup_printf("%s/LCK..%s", dirs[i], base);
		g_autofree gchar *contents = NULL;
		guint64 pid = 0;
		if (!g_file_get_contents(lck, &contents, NULL, NULL))
			continue;
		g_strstrip(contents);
		if (!g_ascii_string_to_unsigned(contents, 10, 1, G_MAXINT32, &pid, NULL))
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno == EPERM) {
			if (reason != NULL) {
				g_autofree gchar *name = fst_port_process_name((gint64)pid);
				*reason = g_strdup_printf(
				    "locked by %s (process %u, %s)", name, (guint)pid, lck);
			}
			return TRUE;
		}
	}
	return FALSE;
}

/* a port as the kernel knows it: a character device by its number, anything
 * else (a test's stand-in) by its inode */
typedef struct {
	gboolean found;
	gboolean chr;
	dev_t rdev;
	dev_t dev;
	ino_t ino;
	gchar *reason; /* (owned) (nullable): who holds it */
} FstPortHolder;

static gboolean
fst_port_holder_matches(const FstPortHolder *h, const struct stat *st)
{
	if (h->chr)
		return S_ISCHR(st->st_mode) && st->st_rdev == h->rdev;
	return st->st_dev == h->dev && st->st_ino == h->ino;
}

/* flock() locks from /proc/locks, lines such as
 * "3: FLOCK  ADVISORY  WRITE 1234 00:05:87 0 EOF": the node's file system
 * (major:minor, hex) and inode; a waiter's line has "->" after the number */
static void
fst_port_holders_from_locks(FstPortHolder *holders, guint n)
{
	g_autofree gchar *contents = NULL;
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents("/proc/locks", &contents, NULL, NULL))
		return;
	lines = g_strsplit(contents, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) f = g_strsplit_set(lines[i], " \t", -1);
		const gchar *tok[8];
		guint k = 0;
		guint maj, min;
		guint64 ino;
		gint64 pid;
		gchar *end = NULL;

		for (guint j = 0; f[j] != NULL && k < G_N_ELEMENTS(tok); j++) {
			if (f[j][0] != '\0')
				tok[k++] = f[j];
		}
		/* number, type, ADVISORY, READ/WRITE, pid, maj:min:inode */
		if (k < 6 || g_strcmp0(tok[1], "->") == 0 || g_strcmp0(tok[1], "FLOCK") != 0)
			continue;
		pid = g_ascii_strtoll(tok[4], &end, 10);
		if (end == tok[4] || *end != '\0')
			continue;
		if (sscanf(tok[5], "%x:%x:%" G_GUINT64_FORMAT, &maj, &min, &ino) != 3)
			continue;
		for (guint h = 0; h < n; h++) {
			FstPortHolder *p = &holders[h];
			g_autofree gchar *name = NULL;
			if (!p->found || p->reason != NULL || p->dev != makedev(maj, min) ||
			    (guint64)p->ino != ino)
				continue;
			if (pid == (gint64)getpid()) {
				p->reason = g_strdup("locked by another lane of this station");
				continue;
			}
			name = fst_port_process_name(pid);
			p->reason = g_strdup_printf(
			    "locked by %s (process %" G_GINT64_FORMAT ")", name, pid);
		}
	}
}

/* the device nodes other processes hold open, from /proc/PID/fd: what this
 * user may see (all of them for root) */
static void
fst_port_holders_from_fds(FstPortHolder *holders, guint n)
{
	g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
	gint64 self = (gint64)getpid();
	const gchar *entry;

	if (proc == NULL)
		return;
	while ((entry = g_dir_read_name(proc)) != NULL) {
		g_autofree gchar *fddir = NULL;
		guint64 pid;
		gint dfd;
		DIR *dir;
		struct dirent *de;

		if (!g_ascii_string_to_unsigned(entry, 10, 1, G_MAXINT32, &pid, NULL) ||
		    (gint64)pid == self)
			continue;
		fddir = g_strdup_printf("/proc/%s/fd", entry);
		dfd = open(fddir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			continue;
		dir = fdopendir(dfd);
		if (dir == NULL) {
			close(dfd);
			continue;
		}
		while ((de = readdir(dir)) != NULL) {
			gchar target[16];
			ssize_t len;
			struct stat st;
			/* ports are device nodes: what is not under /dev (a socket, a
			 * pipe, a file on a network file system that may hang) is
			 * not looked at */
			if (de->d_name[0] == '.')
				continue;
			len = readlinkat(dfd, de->d_name, target, sizeof(target));
			if (len < 5 || strncmp(target, "/dev/", 5) != 0 ||
			    fstatat(dfd, de->d_name, &st, 0) != 0)
				continue;
			for (guint h = 0; h < n; h++) {
				FstPortHolder *p = &holders[h];
				g_autofree gchar *name = NULL;
				if (!p->found || p->reason != NULL ||
				    !fst_port_holder_matches(p, &st))
					continue;
				name = fst_port_process_name((gint64)pid);
				p->reason = g_strdup_printf(
				    "open in %s (process %" G_GUINT64_FORMAT ")", name, pid);
			}
		}
		closedir(dir);
	}
}

/* the usbfs node of a USB device's own port (`usb:BUS-ADDR`), where the
 * station's lock is taken; %NULL for a serial port */
static gchar *
fst_port_usb_node(const gchar *path)
{
	guint8 bus;
	guint8 address;

	if (!fst_usb_transport_parse_port(path, &bus, &address))
		return NULL;
	return g_strdup_printf("/dev/bus/usb/%03u/%03u", bus, address);
}

/* fills in @busy and @reasons of @n ports: a live UUCP lock file, a flock()
 * on the port (a station's fst_port_lock(), picocom's), another process
 * holding it open; without opening any port */
static void
fst_ports_find_holders(const gchar *const *paths, guint n, gboolean *busy, gchar **reasons)
{
	g_autofree FstPortHolder *holders = g_new0(FstPortHolder, n);
	gboolean any = FALSE;

	for (guint i = 0; i < n; i++) {
		g_autofree gchar *node = fst_port_usb_node(paths[i]);
		struct stat st;
		busy[i] = node == NULL && fst_port_uucp_locked(paths[i], &reasons[i]);
		if (busy[i] || stat(node != NULL ? node : paths[i], &st) != 0)
			continue;
		holders[i].found = TRUE;
		holders[i].chr = S_ISCHR(st.st_mode);
		holders[i].rdev = st.st_rdev;
		holders[i].dev = st.st_dev;
		holders[i].ino = st.st_ino;
		any = TRUE;
	}
	if (!any)
		return;
	fst_port_holders_from_locks(holders, n);
	fst_port_holders_from_fds(holders, n);
	for (guint i = 0; i < n; i++) {
		if (holders[i].reason == NULL)
			continue;
		busy[i] = TRUE;
		reasons[i] = g_steal_pointer(&holders[i].reason);
	}
}

/**
 * fst_port_is_busy:
 * @path: a serial port path
 * @reason: (out) (optional) (transfer full): who holds it, when busy
 *
 * Checks whether another program holds the port: a live UUCP lock file, a
 * flock() on it (a station's fst_port_lock(), or a terminal program's), or
 * another process that has it open (of those this user may see: all of them
 * for root). A USB device's own port (`usb:BUS-ADDR`) is looked up by its
 * usbfs node. It does not open the port.
 *
 * Returns: %TRUE when busy
 */
gboolean
fst_port_is_busy(const gchar *path, gchar **reason)
{
	gboolean busy = FALSE;
	gchar *why = NULL;

	fst_ports_find_holders(&path, 1, &busy, &why);
	if (reason != NULL)
		*reason = why;
	else
		g_free(why);
	return busy;
}

/* why this user may not open @path for reading and writing, with what would
 * give it: the group of the node (a serial port), or the udev rule and group
 * of templates/ports/README.md (a USB device node); %NULL when it may */
static gchar *
fst_ports_denied(const gchar *path, gboolean usb)
{
	struct stat st;
	struct group grp;
	struct group *found = NULL;
	gchar buf[1024];
	gint errsv;

	if (access(path, R_OK | W_OK) == 0)
		return NULL;
	errsv = errno;
	if (errsv != EACCES && errsv != EPERM)
		return NULL;
	if (usb)
		return g_strdup_printf("%s: %s: install the udev rule giving the plugdev group the "
		                       "device (templates/ports/README.md) and add the station "
		                       "user to plugdev",
		                       path,
		                       g_strerror(errsv));
	if (stat(path, &st) == 0 && (st.st_mode & S_IRWXG) == (S_IRGRP | S_IWGRP) &&
	    getgrgid_r(st.st_gid, &grp, buf, sizeof(buf), &found) == 0 && found != NULL)
		return g_strdup_printf("%s: add the station user to the %s group (then log in "
		                       "again)",
		                       g_strerror(errsv),
		                       found->gr_name);
	return g_strdup_printf("%s: no group of this user may open it: add a udev rule giving "
	                       "the dialout group the port, and the station user to dialout",
	                       g_strerror(errsv));
}

static const gchar *
fst_ports_transport_to_string(enum sp_transport transport)
{
	switch (transport) {
	case SP_TRANSPORT_USB:
		return "usb";
	case SP_TRANSPORT_BLUETOOTH:
		return "bluetooth";
	case SP_TRANSPORT_NATIVE:
	default:
		return "native";
	}
}

static gint
fst_ports_compare_name(gconstpointer a, gconstpointer b)
{
	const FstPortInfo *pa = *(const FstPortInfo *const *)a;
	const FstPortInfo *pb = *(const FstPortInfo *const *)b;
	return g_strcmp0(pa->name, pb->name);
}

/* a sysfs directory name that is a USB device's port path: `1-3.2` */
static gboolean
fst_ports_is_usb_path(const gchar *name)
{
	const gchar *p = name;
	if (!g_ascii_isdigit(*p))
		return FALSE;
	while (g_ascii_isdigit(*p))
		p++;
	if (*p++ != '-' || !g_ascii_isdigit(*p))
		return FALSE;
	while (*p != '\0') {
		if (*p == '.') {
			if (!g_ascii_isdigit(p[1]))
				return FALSE;
		} else if (!g_ascii_isdigit(*p)) {
			return FALSE;
		}
		p++;
	}
	return TRUE;
}

/* the USB port path of the device behind a tty, from its sysfs device link
 * (…/usb1/1-3/1-3.2/1-3.2:1.0/ttyUSB0): the innermost port-path directory */
static gchar *
fst_ports_serial_usb_path(const gchar *port)
{
	g_autofree gchar *base = g_path_get_basename(port);
	g_autofree gchar *link = g_strdup_printf("/sys/class/tty/%s/device", base);
	g_autofree gchar *real = realpath(link, NULL);
	g_auto(GStrv) parts = NULL;
	gchar *found = NULL;

	if (real == NULL)
		return NULL;
	parts = g_strsplit(real, "/", -1);
	for (guint i = 0; parts[i] != NULL; i++) {
		if (fst_ports_is_usb_path(parts[i])) {
			g_free(found);
			found = g_strdup(parts[i]);
		}
	}
	return found;
}

/**
 * fst_ports_list_serial:
 * @known: the known-devices table
 * @error: (nullable): return location
 *
 * Lists the serial ports the OS knows, sorted by name, with their USB
 * identity, the dialect the table gives them and whether this user may open
 * them, from the OS's records: no port is opened (whether one is busy is
 * fst_ports_check_busy()'s).
 *
 * Returns: (transfer container) (element-type FstPortInfo): the ports, or
 * %NULL with %FST_ERROR_INTERNAL when libserialport cannot enumerate
 */
GPtrArray *
fst_ports_list_serial(FstKnownDevices *known, GError **error)
{
	struct sp_port **list = NULL;
	enum sp_return rc = sp_list_ports(&list);
	g_autoptr(GPtrArray) ports =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_port_info_free);

	/* no /sys/class/tty (a container, an empty emulated sysfs): no ports */
	if (rc == SP_ERR_FAIL && sp_last_error_code() == ENOENT)
		return g_steal_pointer(&ports);
	if (rc != SP_OK) {
		char *msg = sp_last_error_message();
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "cannot list serial ports: %s",
		            msg != NULL ? msg : "libserialport failed");
		sp_free_error_message(msg);
		return NULL;
	}
	for (guint i = 0; list[i] != NULL; i++) {
		struct sp_port *port = list[i];
		FstPortInfo *info = g_new0(FstPortInfo, 1);
		const gchar *desc = sp_get_port_description(port);
		const gchar *serial = NULL;
		const gchar *known_desc = NULL;
		const gchar *dialect;
		enum sp_transport transport = sp_get_port_transport(port);

		info->kind = FST_PORT_KIND_SERIAL;
		info->name = g_strdup(sp_get_port_name(port));
		info->transport = g_strdup(fst_ports_transport_to_string(transport));
		info->vid = -1;
		info->pid = -1;
		if (transport == SP_TRANSPORT_USB) {
			if (sp_get_port_usb_vid_pid(port, &info->vid, &info->pid) != SP_OK) {
				info->vid = -1;
				info->pid = -1;
			}
			serial = sp_get_port_usb_serial(port);
		}
		dialect = fst_known_devices_lookup(known, info->vid, info->pid, &known_desc);
		info->dialect = g_strdup(dialect);
		info->serial = serial != NULL && serial[0] != '\0' ? g_strdup(serial) : NULL;
		if (desc != NULL && desc[0] != '\0')
			info->description = g_strdup(desc);
		else
			info->description = g_strdup(known_desc);
		info->denied = fst_ports_denied(info->name, FALSE);
		if (transport == SP_TRANSPORT_USB)
			info->usb_path = fst_ports_serial_usb_path(info->name);
		g_ptr_array_add(ports, info);
	}
	sp_free_port_list(list);
	g_ptr_array_sort(ports, fst_ports_compare_name);
	return g_steal_pointer(&ports);
}

/* the serial number from sysfs: reading the string descriptor would need
 * opening the device, which a busy or unbound device may refuse */
static gchar *
fst_ports_usb_port_path(libusb_device *dev)
{
	guint8 numbers[8];
	gint n = libusb_get_port_numbers(dev, numbers, sizeof(numbers));
	GString *name;

	if (n <= 0)
		return NULL;
	name = g_string_new(NULL);
	g_string_append_printf(name, "%u-", libusb_get_bus_number(dev));
	for (gint i = 0; i < n; i++)
		g_string_append_printf(name, i == 0 ? "%u" : ".%u", numbers[i]);
	return g_string_free(name, FALSE);
}

static gchar *
fst_ports_usb_sysfs_serial(libusb_device *dev)
{
	g_autofree gchar *name = fst_ports_usb_port_path(dev);
	g_autofree gchar *path = NULL;
	gchar *serial = NULL;

	if (name == NULL)
		return NULL;
	path = g_strdup_printf("/sys/bus/usb/devices/%s/serial", name);
	if (!g_file_get_contents(path, &serial, NULL, NULL))
		return NULL;
	g_strstrip(serial);
	if (serial[0] == '\0' || !g_utf8_validate(serial, -1, NULL)) {
		g_free(serial);
		return NULL;
	}
	return serial;
}

static const gchar *
fst_ports_libusb_strerror(gint rc)
{
	return libusb_strerror((enum libusb_error)rc);
}

/**
 * fst_ports_check_busy:
 * @ports: (element-type FstPortInfo): ports from fst_ports_list_serial() or
 *   fst_ports_list_usb()
 *
 * Fills in which ports another program holds (fst_port_is_busy()),
 * from the OS's records (lock files, /proc/locks, /proc/PID/fd): no port is
 * opened. It reads every process's open files once, which a person's
 * listing can afford and a line's scans, several times a second, need not.
 */
void
fst_ports_check_busy(GPtrArray *ports)
{
	g_autofree const gchar **paths = g_new0(const gchar *, ports->len + 1);
	g_autofree gboolean *busy = g_new0(gboolean, ports->len + 1);
	g_autofree gchar **reasons = g_new0(gchar *, ports->len + 1);
	g_autofree guint *index = g_new0(guint, ports->len + 1);
	guint n = 0;

	for (guint i = 0; i < ports->len; i++) {
		FstPortInfo *info = g_ptr_array_index(ports, i);
		paths[n] = info->name;
		index[n++] = i;
	}
	fst_ports_find_holders(paths, n, busy, reasons);
	for (guint j = 0; j < n; j++) {
		FstPortInfo *info = g_ptr_array_index(ports, index[j]);
		g_free(info->busy_reason);
		info->busy = busy[j];
		info->busy_reason = reasons[j];
	}
}

/**
 * fst_ports_list_usb:
 * @known: the known-devices table; only its vendors are listed
 * @error: (nullable): return location
 *
 * Lists the USB devices of known vendors through libusb. A machine without
 * USB (no usbfs, a container) lists none, which is not an error.
 *
 * Returns: (transfer container) (element-type FstPortInfo): the devices
 */
GPtrArray *
fst_ports_list_usb(FstKnownDevices *known, GError **error)
{
	libusb_context *ctx = NULL;
	libusb_device **list = NULL;
	ssize_t n;
	gint rc;
	g_autoptr(GPtrArray) ports =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_port_info_free);

	rc = libusb_init(&ctx);
	if (rc != LIBUSB_SUCCESS) {
		g_debug("libusb unavailable: %s", fst_ports_libusb_strerror(rc));
		return g_steal_pointer(&ports);
	}
	n = libusb_get_device_list(ctx, &list);
	if (n < 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "cannot list USB devices: %s",
		            fst_ports_libusb_strerror((gint)n));
		libusb_exit(ctx);
		return NULL;
	}
	for (ssize_t i = 0; i < n; i++) {
		struct libusb_device_descriptor desc;
		const gchar *known_desc = NULL;
		g_autofree gchar *node = NULL;
		FstPortInfo *info;

		if (libusb_get_device_descriptor(list[i], &desc) != LIBUSB_SUCCESS)
			continue;
		if (!fst_known_devices_has_vendor(known, desc.idVendor))
			continue;
		info = g_new0(FstPortInfo, 1);
		info->kind = FST_PORT_KIND_USB;
		info->name = g_strdup_printf("usb:%03u-%03u",
		                             libusb_get_bus_number(list[i]),
		                             libusb_get_device_address(list[i]));
		info->transport = g_strdup("usb");
		info->vid = desc.idVendor;
		info->pid = desc.idProduct;
		info->dialect =
		    g_strdup(fst_known_devices_lookup(known, info->vid, info->pid, &known_desc));
		info->description = g_strdup(known_desc);
		info->serial = fst_ports_usb_sysfs_serial(list[i]);
		info->usb_path = fst_ports_usb_port_path(list[i]);
		node = g_strdup_printf("/dev/bus/usb/%03u/%03u",
		                       libusb_get_bus_number(list[i]),
		                       libusb_get_device_address(list[i]));
		info->denied = fst_ports_denied(node, TRUE);
		g_ptr_array_add(ports, info);
	}
	libusb_free_device_list(list, 1);
	libusb_exit(ctx);
	g_ptr_array_sort(ports, fst_ports_compare_name);
	return g_steal_pointer(&ports);
}

struct _FstPortLock {
	gint fd;
	gchar *path; /* (owned) */
};

/**
 * fst_port_lock:
 * @path: a serial port path
 * @error: (nullable): return location
 *
 * Takes the station's advisory lock on a port, after checking the UUCP lock
 * files of terminal programs. A lock another station (or picocom) holds
 * makes the port busy. Release it with fst_port_unlock().
 *
 * Returns: (transfer full): the lock, or %NULL with %FST_ERROR_BUSY naming the
 * port and who holds it, or %FST_ERROR_NOT_FOUND / %FST_ERROR_PERMISSION_DENIED
 */
FstPortLock *
fst_port_lock(const gchar *path, GError **error)
{
	g_autofree gchar *reason = NULL;
	g_autofree gchar *node = fst_port_usb_node(path);
	FstPortLock *self;
	gint fd;

	if (node == NULL && fst_port_uucp_locked(path, &reason)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_BUSY,
		            "port %s is busy: %s: close the program using it",
		            path,
		            reason);
		return NULL;
	}
	fd = open(node != NULL ? node : path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		gint errsv = errno;
		switch (errsv) {
		case ENOENT:
		case ENODEV:
		case ENXIO:
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_NOT_FOUND,
			            "port %s does not exist: is the device plugged in? "
			            "(`fleetstation ports` lists ports)",
			            path);
			break;
		case EACCES:
		case EPERM:
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_PERMISSION_DENIED,
			            "port %s: %s: %s",
			            path,
			            g_strerror(errsv),
			            node != NULL
			                ? "install a udev rule giving the plugdev group the "
			                  "device (templates/ports/README.md) and add the "
			                  "station user to plugdev"
			                : "add the station user to the dialout group");
			break;
		case EBUSY: {
			g_autofree gchar *holder = NULL;
			(void)fst_port_is_busy(path, &holder);
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_BUSY,
			            "port %s is busy: opened exclusively by %s: close it",
			            path,
			            holder != NULL ? holder : "another program");
			break;
		}
		default:
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INTERNAL,
			            "cannot open port %s: %s",
			            path,
			            g_strerror(errsv));
			break;
		}
		return NULL;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		gint errsv = errno;
		g_autofree gchar *holder = NULL;
		close(fd);
		if (errsv != EWOULDBLOCK) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INTERNAL,
			            "cannot lock port %s: %s",
			            path,
			            g_strerror(errsv));
			return NULL;
		}
		/* who: another station's lane, or a terminal program that
		 * locks ports (picocom) */
		(void)fst_port_is_busy(path, &holder);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_BUSY,
		            "port %s is busy: %s",
		            path,
		            holder != NULL && g_str_has_prefix(holder, "locked by ")
		                ? holder
		                : "another fleetstation is provisioning on it");
		return NULL;
	}
	self = g_new0(FstPortLock, 1);
	self->fd = fd;
	self->path = g_strdup(path);
	return self;
}

/**
 * fst_port_unlock:
 * @self: (nullable): a lock from fst_port_lock()
 *
 * Releases the lock.
 */
void
fst_port_unlock(FstPortLock *self)
{
	if (self == NULL)
		return;
	close(self->fd);
	g_free(self->path);
	g_free(self);
}

typedef struct {
	gchar *lane;
	gchar *usb_path; /* (nullable) */
	gchar *serial;   /* (nullable) */
} FstLane;

struct _FstLanes {
	GPtrArray *lanes; /* (element-type FstLane) */
};

static void
fst_lane_free(FstLane *lane)
{
	g_free(lane->lane);
	g_free(lane->usb_path);
	g_free(lane->serial);
	g_free(lane);
}

/**
 * fst_lanes_load:
 * @workspace: (nullable): a station workspace
 * @error: (nullable): return location
 *
 * Reads the `[lanes]` group of WORKSPACE/station.conf: `NAME=1-3.2` binds
 * lane NAME to that USB port path, `NAME=serial:FT1234AB` to the USB-serial
 * adapter with that serial number. No workspace, no file or no group: no
 * lanes.
 *
 * Returns: (transfer full): the lanes, or %NULL with %FST_ERROR_CONFIG naming
 *   the file and the lane that is wrong
 */
FstLanes *
fst_lanes_load(const gchar *workspace, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree gchar *path = NULL;
	g_auto(GStrv) keys = NULL;
	g_autoptr(GPtrArray) lanes = g_ptr_array_new_with_free_func((GDestroyNotify)fst_lane_free);
	FstLanes *self;

	if (workspace != NULL) {
		path = g_build_filename(workspace, "station.conf", NULL);
		if (g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL))
			keys = g_key_file_get_keys(kf, "lanes", NULL, NULL);
	}
	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		g_autofree gchar *value = g_key_file_get_string(kf, "lanes", keys[i], NULL);
		FstLane *lane = g_new0(FstLane, 1);
		lane->lane = g_strdup(keys[i]);
		g_ptr_array_add(lanes, lane);
		if (value != NULL)
			g_strstrip(value);
		if (value != NULL && g_str_has_prefix(value, "serial:") && value[7] != '\0') {
			lane->serial = g_strdup(value + 7);
		} else if (value != NULL && fst_ports_is_usb_path(value)) {
			lane->usb_path = g_strdup(value);
		} else {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s: [lanes] %s=%s binds the lane to no place: give a USB port "
			            "path (e.g. 1-3.2, as `fleetstation ports` shows it) or "
			            "serial:SERIALNUMBER",
			            path,
			            keys[i],
			            value != NULL ? value : "");
			return NULL;
		}
		for (guint j = 0; j + 1 < lanes->len; j++) {
			FstLane *other = g_ptr_array_index(lanes, j);
			if (g_strcmp0(other->usb_path, lane->usb_path) == 0 &&
			    g_strcmp0(other->serial, lane->serial) == 0) {
				g_set_error(error,
				            FST_ERROR,
				            FST_ERROR_CONFIG,
				            "%s: [lanes] %s and %s are bound to the same place %s",
				            path,
				            other->lane,
				            lane->lane,
				            value);
				return NULL;
			}
		}
	}
	self = g_new0(FstLanes, 1);
	self->lanes = g_steal_pointer(&lanes);
	return self;
}

/**
 * fst_lanes_get_size:
 * @self: the lanes
 *
 * Returns: how many lanes are bound
 */
guint
fst_lanes_get_size(FstLanes *self)
{
	return self->lanes->len;
}

/**
 * fst_lanes_match:
 * @self: the lanes
 * @port: a port as fst_ports_list_serial() or fst_ports_list_usb() describe it
 *
 * Returns: (transfer none) (nullable): the lane bound to @port's place
 */
const gchar *
fst_lanes_match(FstLanes *self, const FstPortInfo *port)
{
	for (guint i = 0; i < self->lanes->len; i++) {
		FstLane *lane = g_ptr_array_index(self->lanes, i);
		if (lane->usb_path != NULL && g_strcmp0(lane->usb_path, port->usb_path) == 0)
			return lane->lane;
		if (lane->serial != NULL && port->kind == FST_PORT_KIND_SERIAL &&
		    g_strcmp0(lane->serial, port->serial) == 0)
			return lane->lane;
	}
	return NULL;
}

/**
 * fst_lanes_apply:
 * @self: the lanes
 * @ports: (element-type FstPortInfo): listed ports; each gets its lane
 */
void
fst_lanes_apply(FstLanes *self, GPtrArray *ports)
{
	for (guint i = 0; i < ports->len; i++) {
		FstPortInfo *port = g_ptr_array_index(ports, i);
		g_free(port->lane);
		port->lane = g_strdup(fst_lanes_match(self, port));
	}
}

/* the serial ports and USB devices there are now; a kind that cannot be
 * listed (no USB access) has none */
static GPtrArray *
fst_lanes_list_ports(FstKnownDevices *known)
{
	GPtrArray *all = g_ptr_array_new_with_free_func((GDestroyNotify)fst_port_info_free);
	for (guint kind = 0; kind < 2; kind++) {
		g_autoptr(GError) error_list = NULL;
		g_autoptr(GPtrArray) ports = kind == 0 ? fst_ports_list_serial(known, &error_list)
		                                       : fst_ports_list_usb(known, &error_list);
		if (ports == NULL) {
			g_debug("no lanes for these ports: %s", error_list->message);
			continue;
		}
		g_ptr_array_set_free_func(ports, NULL);
		g_ptr_array_extend_and_steal(all, g_steal_pointer(&ports));
	}
	return all;
}

/**
 * fst_lanes_by_port:
 * @workspace: (nullable): a station workspace
 * @error: (nullable): return location
 *
 * The jig lane of each port there is now, for showing the sockets by their
 * jig names before any board is in: the workspace's `[lanes]` applied to the
 * serial ports and the known USB devices. A workspace without lanes lists no
 * port at all.
 *
 * Ports that cannot be listed (no USB access) have no lane here, as in the
 * results of a gang.
 *
 * Returns: (transfer full) (element-type utf8 utf8): port name to lane name,
 *   or %NULL with @error set (a wrong `[lanes]` group or known-devices table)
 */
GHashTable *
fst_lanes_by_port(const gchar *workspace, GError **error)
{
	g_autoptr(FstLanes) lanes = fst_lanes_load(workspace, error);
	g_autoptr(GHashTable) map = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_autoptr(FstKnownDevices) known = NULL;
	g_autoptr(GPtrArray) ports = NULL;

	if (lanes == NULL)
		return NULL;
	if (fst_lanes_get_size(lanes) == 0)
		return g_steal_pointer(&map);
	known = fst_known_devices_load_default(error);
	if (known == NULL)
		return NULL;
	ports = fst_lanes_list_ports(known);
	for (guint i = 0; i < ports->len; i++) {
		FstPortInfo *port = g_ptr_array_index(ports, i);
		const gchar *lane = fst_lanes_match(lanes, port);
		if (lane != NULL)
			g_hash_table_insert(map, g_strdup(port->name), g_strdup(lane));
	}
	return g_steal_pointer(&map);
}

/**
 * fst_lanes_resolve:
 * @self: the lanes
 * @ports: (element-type FstPortInfo): the ports there are now
 * @lane: a lane name
 * @error: (nullable): return location
 *
 * Returns: (transfer full): the port at @lane's place now (`/dev/ttyUSB3`),
 *   or %NULL with %FST_ERROR_NOT_FOUND for an unknown lane or an empty socket
 */
gchar *
fst_lanes_resolve(FstLanes *self, GPtrArray *ports, const gchar *lane, GError **error)
{
	FstLane *found = NULL;
	for (guint i = 0; i < self->lanes->len; i++) {
		FstLane *l = g_ptr_array_index(self->lanes, i);
		if (g_strcmp0(l->lane, lane) == 0)
			found = l;
	}
	if (found == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "lane %s is not bound in the workspace ([lanes] of station.conf)",
		            lane);
		return NULL;
	}
	for (guint i = 0; i < ports->len; i++) {
		FstPortInfo *port = g_ptr_array_index(ports, i);
		if (g_strcmp0(fst_lanes_match(self, port), lane) == 0)
			return g_strdup(port->name);
	}
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_NOT_FOUND,
	            "lane %s (%s%s) has no device: is its socket empty or its adapter unplugged?",
	            lane,
	            found->usb_path != NULL ? "USB port " : "serial ",
	            found->usb_path != NULL ? found->usb_path : found->serial);
	return NULL;
}

/**
 * fst_lanes_resolve_ports:
 * @workspace: the workspace, whose `[lanes]` bind lane names to places
 * @ports: (array zero-terminated=1): port names, where `lane:NAME` names the
 *   port by its jig lane
 * @error: (nullable): return location
 *
 * Puts the port at each `lane:NAME`'s place now (`/dev/ttyUSB3`) for the
 * lane name, so that a gang can name its sockets whatever ttyUSB numbers their
 * adapters have today; other names stay as they are. A lane the workspace
 * does not bind, or whose place has no port now, is %FST_ERROR_NOT_FOUND
 * naming the place to check.
 *
 * Returns: (transfer full): the port names, or %NULL with @error set
 */
gchar **
fst_lanes_resolve_ports(const gchar *workspace, const gchar *const *ports, GError **error)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_autoptr(FstLanes) lanes = NULL;
	g_autoptr(GPtrArray) there = NULL;

	for (guint i = 0; ports != NULL && ports[i] != NULL; i++) {
		g_autofree gchar *port = NULL;
		if (!g_str_has_prefix(ports[i], FST_LANES_PORT_PREFIX)) {
			g_strv_builder_add(builder, ports[i]);
			continue;
		}
		if (lanes == NULL) {
			g_autoptr(FstKnownDevices) known = fst_known_devices_load_default(error);
			if (known == NULL)
				return NULL;
			lanes = fst_lanes_load(workspace, error);
			if (lanes == NULL)
				return NULL;
			there = fst_lanes_list_ports(known);
		}
		port = fst_lanes_resolve(
		    lanes, there, ports[i] + strlen(FST_LANES_PORT_PREFIX), error);
		if (port == NULL) {
			g_prefix_error(error, "port %s: ", ports[i]);
			return NULL;
		}
		g_debug("%s is %s now", ports[i], port);
		g_strv_builder_add(builder, port);
	}
	return g_strv_builder_end(builder);
}

/**
 * fst_lanes_free:
 * @self: (nullable): the lanes
 */
void
fst_lanes_free(FstLanes *self)
{
	if (self == NULL)
		return;
	g_ptr_array_unref(self->lanes);
	g_free(self);
}

/**
 * fst_lanes_bind:
 * @workspace: a station workspace
 * @binding: `NAME=1-3.2` or `NAME=serial:SERIALNUMBER`
 * @error: (nullable): return location
 *
 * Binds lane NAME to a physical place in the `[lanes]` group of
 * WORKSPACE/station.conf, replacing an earlier binding of NAME and keeping
 * the rest of the file.
 *
 * Returns: %TRUE, or %FALSE with %FST_ERROR_CONFIG for a binding that names
 *   no place or a place bound to another lane
 */
gboolean
fst_lanes_bind(const gchar *workspace, const gchar *binding, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree gchar *path = g_build_filename(workspace, "station.conf", NULL);
	g_autofree gchar *name = NULL;
	g_autofree gchar *old = NULL;
	const gchar *eq = strchr(binding, '=');
	g_autoptr(FstLanes) lanes = NULL;
	g_autoptr(GError) error_local = NULL;

	if (eq == NULL || eq == binding) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "lane binding '%s' is not NAME=USB-PORT-PATH or NAME=serial:SERIAL",
		            binding);
		return FALSE;
	}
	name = g_strndup(binding, (gsize)(eq - binding));
	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_COMMENTS, &error_local) &&
	    !g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "cannot read %s: %s",
		            path,
		            error_local->message);
		return FALSE;
	}
	old = g_key_file_to_data(kf, NULL, NULL);
	g_key_file_set_string(kf, "lanes", name, eq + 1);
	if (!g_key_file_save_to_file(kf, path, &error_local)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "cannot write %s: %s",
		            path,
		            error_local->message);
		return FALSE;
	}
	/* the whole table must still load: put the file back if not */
	lanes = fst_lanes_load(workspace, error);
	if (lanes == NULL) {
		(void)g_file_set_contents(path, old, -1, NULL);
		return FALSE;
	}
	return TRUE;
}
