/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Watch mode: provision each device as it is plugged in, until stopped.
 *
 * A port "arrives" when its path appears, or when it now points at another
 * device node (a re-plugged adapter, a new simulator behind a stable link).
 * Each arrival gets a gang worker (fst-gang.c) for one device; a port that
 * disappears is forgotten, so the next board on it is provisioned again.
 * A device the database already has as provisioned is skipped under a profile
 * with on-return=refuse (a board left on its fixture, not an error). Under
 * on-return=reprovision (a rework line) it is re-provisioned if its
 * certificate in service is older than this watch, and skipped if this watch
 * issued it: a USB adapter that re-enumerates is not a device coming back.
 * A trust-only job takes every device; the pipeline refuses one that is not
 * provisioned.
 *
 * Ports are found by scanning, every poll interval, either the given patterns
 * (`*` and `?` in the last path component) or the serial ports whose USB id the
 * known-devices table knows. libusb hotplug events of known vendors, where the
 * platform has them, wake the scan at once, and make it scan every 100 ms for
 * the next 3 s: the tty node of an adapter appears after its USB device, once
 * the driver binds.
 */

#define G_LOG_DOMAIN "FstWatch"

#include "fst-watch.h"

#include <glib/gstdio.h>
#include <libusb.h>
#include <sys/stat.h>

#include "fst-error.h"
#include "fst-ports.h"

typedef struct {
	FstStation *station;       /* (unowned) */
	const FstProfile *profile; /* (unowned) */
	gint64 started_us;         /* when the watch began, unix microseconds */
	GHashTable *seen;          /* port path -> identity string of what was there */
	FstKnownDevices *known;
	gint hotplug;       /* atomic: a USB device came or went */
	gboolean warned;    /* a scan failure was reported once */
	gint64 burst_until; /* scan often until then: a tty follows its USB device */
} FstWatch;

/* after a hotplug event the tty node appears only once its driver binds */
#define FST_WATCH_BURST_MS 3000
#define FST_WATCH_BURST_POLL_MS 100

/* what is behind a path: the device node it resolves to */
static gchar *
fst_watch_identity(const gchar *path)
{
	GStatBuf st;
	g_autofree gchar *target = g_file_read_link(path, NULL);
	if (g_stat(path, &st) != 0)
		return NULL;
	return g_strdup_printf(
	    "%lu:%lu:%s", (gulong)st.st_rdev, (gulong)st.st_ino, target != NULL ? target : "");
}

static void
fst_watch_scan_pattern(const gchar *pattern, GPtrArray *found)
{
	g_autofree gchar *dir = g_path_get_dirname(pattern);
	g_autofree gchar *base = g_path_get_basename(pattern);
	g_autoptr(GDir) d = NULL;
	const gchar *name;

	if (strchr(base, '*') == NULL && strchr(base, '?') == NULL) {
		if (g_file_test(pattern, G_FILE_TEST_EXISTS))
			g_ptr_array_add(found, g_strdup(pattern));
		return;
	}
	d = g_dir_open(dir, 0, NULL);
	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *path = NULL;
		GStatBuf st;
		if (!g_pattern_match_simple(base, name))
			continue;
		/* ports only: character devices and links to them (a pty's
		 * link), never the log or pid files beside them */
		path = g_build_filename(dir, name, NULL);
		if (g_stat(path, &st) != 0 || !S_ISCHR(st.st_mode))
			continue;
		g_ptr_array_add(found, g_steal_pointer(&path));
	}
}

static GPtrArray *
fst_watch_scan(FstWatch *self, const FstWatchOptions *options)
{
	GPtrArray *found = g_ptr_array_new_with_free_func(g_free);
	if (options->patterns != NULL) {
		for (guint i = 0; options->patterns[i] != NULL; i++)
			fst_watch_scan_pattern(options->patterns[i], found);
	} else {
		g_autoptr(GError) error_local = NULL;
		g_autoptr(GPtrArray) ports = fst_ports_list_serial(self->known, &error_local);
		if (ports == NULL) {
			/* once, not every poll */
			if (!self->warned)
				g_warning("scanning serial ports: %s", error_local->message);
			self->warned = TRUE;
			return found;
		}
		for (guint i = 0; i < ports->len; i++) {
			FstPortInfo *p = g_ptr_array_index(ports, i);
			if (p->dialect != NULL)
				g_ptr_array_add(found, g_strdup(p->name));
		}
	}
	g_ptr_array_sort(found, (GCompareFunc)g_strcmp0);
	return found;
}

/* which plugged-in devices are worked on (FstGangAcceptFunc): see the top of
 * this file */
static gboolean
fst_watch_accept(const gchar *uid, const gchar *port, gpointer user_data, GError **error)
{
	FstWatch *self = user_data;
	FstDb *db = fst_station_get_db(self->station);
	g_autoptr(GError) error_local = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(FstDbCert) active = NULL;

	if (fst_profile_get_job(self->profile) == FST_PROFILE_JOB_TRUST_ONLY)
		return TRUE;
	if (fst_profile_get_on_return(self->profile) == FST_PROFILE_ON_RETURN_REFUSE) {
		dev = fst_db_find_device(db, uid, &error_local);
		if (dev != NULL && dev->state == FST_DB_DEVICE_STATE_PROVISIONED) {
			g_info("device %s on %s is provisioned already: skipped", uid, port);
			return FALSE;
		}
		return TRUE;
	}
	active = fst_db_get_active_certificate(db, uid, &error_local);
	if (active != NULL && active->created_at >= self->started_us) {
		g_info("device %s on %s was provisioned by this watch: skipped", uid, port);
		return FALSE;
	}
	return TRUE;
}

static int LIBUSB_CALL
fst_watch_hotplug_cb(libusb_context *ctx,
                     libusb_device *device,
                     libusb_hotplug_event event,
                     void *user_data)
{
	FstWatch *self = user_data;
	struct libusb_device_descriptor desc;
	(void)ctx;
	if (libusb_get_device_descriptor(device, &desc) != LIBUSB_SUCCESS)
		return 0;
	g_debug("usb %04x:%04x %s",
	        desc.idVendor,
	        desc.idProduct,
	        event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED ? "arrived" : "left");
	if (fst_known_devices_has_vendor(self->known, desc.idVendor))
		g_atomic_int_set(&self->hotplug, 1);
	return 0;
}

/* waits up to @ms, or less when a USB device of a known vendor comes or goes */
static void
fst_watch_wait(FstWatch *self, libusb_context *usb, guint ms, GCancellable *stop)
{
	gint64 now = g_get_monotonic_time();
	gint64 deadline;

	if (now < self->burst_until)
		ms = MIN(ms, FST_WATCH_BURST_POLL_MS);
	deadline = now + (gint64)ms * 1000;
	while (g_get_monotonic_time() < deadline && !g_cancellable_is_cancelled(stop) &&
	       !g_atomic_int_get(&self->hotplug)) {
		if (usb != NULL) {
			struct timeval tv = {.tv_sec = 0, .tv_usec = 50000};
			libusb_handle_events_timeout_completed(usb, &tv, NULL);
		} else {
			g_usleep(50000);
		}
	}
	if (g_atomic_int_get(&self->hotplug))
		self->burst_until = g_get_monotonic_time() + FST_WATCH_BURST_MS * 1000;
	g_atomic_int_set(&self->hotplug, 0);
}

static void
fst_watch_deliver(FstGang *gang, FstWatchResultFunc on_result, gpointer user_data)
{
	g_autoptr(GPtrArray) results = fst_gang_take_results(gang);
	for (guint i = 0; on_result != NULL && i < results->len; i++)
		on_result(g_ptr_array_index(results, i), user_data);
}

/**
 * fst_watch_run:
 * @station: the station
 * @profile: the profile for every device
 * @options: what to watch and how (see #FstWatchOptions)
 * @progress: (nullable): per-device progress, from worker threads
 * @on_result: (nullable): each device's result, from this thread
 * @user_data: data for @progress and @on_result
 * @error: (nullable): return location
 *
 * Provisions each device that arrives, until @options->stop is cancelled,
 * then waits for the devices in flight. Runs in the calling thread.
 *
 * Returns: %FALSE only when watching cannot start (the known-devices table)
 */
gboolean
fst_watch_run(FstStation *station,
              const FstProfile *profile,
              const FstWatchOptions *options,
              FstProgressFunc progress,
              FstWatchResultFunc on_result,
              gpointer user_data,
              GError **error)
{
	g_autoptr(FstKnownDevices) known = fst_known_devices_load_default(error);
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_autoptr(FstGang) gang = NULL;
	libusb_context *usb = NULL;
	libusb_hotplug_callback_handle hotplug = 0;
	gboolean have_hotplug = FALSE;
	guint poll_ms = options->poll_ms > 0 ? options->poll_ms : FST_WATCH_DEFAULT_POLL_MS;
	FstWatch self = {
	    .station = station,
	    .profile = profile,
	    .seen = seen,
	    .started_us = g_get_real_time(),
	};
	FstGangOptions gang_options = {
	    .baud_rate = options->baud_rate,
	    .accept = fst_watch_accept,
	    .accept_data = &self,
	    .abort = options->abort,
	};

	if (known == NULL)
		return FALSE;
	self.known = known;
	gang = fst_gang_new(station, profile, &gang_options, progress, user_data);

	/* USB hotplug, where the platform has it; scanning works without */
	if (libusb_init(&usb) == LIBUSB_SUCCESS) {
		if (libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG) &&
		    libusb_hotplug_register_callback(usb,
		                                     LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED |
		                                         LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
		                                     0,
		                                     LIBUSB_HOTPLUG_MATCH_ANY,
		                                     LIBUSB_HOTPLUG_MATCH_ANY,
		                                     LIBUSB_HOTPLUG_MATCH_ANY,
		                                     fst_watch_hotplug_cb,
		                                     &self,
		                                     &hotplug) == LIBUSB_SUCCESS)
			have_hotplug = TRUE;
	} else {
		usb = NULL;
	}
	g_info("watching %s%s",
	       options->patterns != NULL ? "the given ports" : "serial ports of known USB ids",
	       have_hotplug ? " with USB hotplug" : "");

	while (!g_cancellable_is_cancelled(options->stop) &&
	       !g_cancellable_is_cancelled(options->abort)) {
		g_autoptr(GPtrArray) found = fst_watch_scan(&self, options);
		g_autoptr(GHashTable) present =
		    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
		GHashTableIter iter;
		gpointer key;

		for (guint i = 0; i < found->len; i++) {
			const gchar *path = g_ptr_array_index(found, i);
			g_autofree gchar *identity = fst_watch_identity(path);
			const gchar *before = g_hash_table_lookup(seen, path);
			if (identity == NULL)
				continue;
			g_hash_table_add(present, g_strdup(path));
			if (g_strcmp0(before, identity) == 0 ||
			    fst_gang_port_is_running(gang, path))
				continue;
			g_info("device arrived on %s", path);
			g_hash_table_replace(seen, g_strdup(path), g_steal_pointer(&identity));
			fst_gang_add_port(gang, path);
		}
		/* gone ports are forgotten: the next board on them is new */
		g_hash_table_iter_init(&iter, seen);
		while (g_hash_table_iter_next(&iter, &key, NULL)) {
			if (!g_hash_table_contains(present, key) &&
			    !fst_gang_port_is_running(gang, key))
				g_hash_table_iter_remove(&iter);
		}
		fst_watch_deliver(gang, on_result, user_data);
		fst_watch_wait(&self, usb, poll_ms, options->stop);
	}

	/* the devices in flight finish */
	{
		g_autoptr(GPtrArray) results = fst_gang_wait(gang);
		for (guint i = 0; on_result != NULL && i < results->len; i++)
			on_result(g_ptr_array_index(results, i), user_data);
	}
	if (have_hotplug)
		libusb_hotplug_deregister_callback(usb, hotplug);
	if (usb != NULL)
		libusb_exit(usb);
	return TRUE;
}
