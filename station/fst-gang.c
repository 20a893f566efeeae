/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A gang: several ports provisioned at once, one worker thread per port. The
 * station (CA, trust catalogue, database) is shared; the CA and the database
 * are thread-safe, and a device's I/O never waits for another port's.
 *
 * Stopping has two levels, so that Ctrl-C never leaves a device half done:
 *  - `stop` (first Ctrl-C or SIGTERM): no worker starts a new device; the
 *    devices in flight run to their end, pass or fail, and are recorded;
 *  - `abort` (second Ctrl-C): the pipeline is cancelled inside the device
 *    exchange; it records the device failed with the step it was in, and a
 *    certificate issued for it stays in the database in its last state.
 *
 * Each worker holds the port's lock (fst_port_lock()) while it works, so that
 * two stations never drive one device. With a count, or an accept function,
 * a worker first identifies the device on its own (fst_gang_peek()) to learn
 * its id: to wait for the next board on a fixture, and to let the caller skip
 * or refuse it before anything is issued.
 */

#define G_LOG_DOMAIN "FstGang"

#include "fst-gang.h"

#include "fst-dialect.h"
#include "fst-error.h"
#include "fst-file.h"
#include "fst-ports.h"

/* how often a waiting port looks for its next device */
#define FST_GANG_POLL_MS 300

typedef struct _FstGangWorker FstGangWorker;

struct _FstGang {
	FstStation *station;       /* (unowned) */
	const FstProfile *profile; /* (unowned) */
	FstGangOptions options;    /* cancellables (owned) */
	FstProgressFunc progress;
	gpointer user_data;
	GMutex lock;
	GPtrArray *workers;     /* (element-type FstGangWorker) */
	GPtrArray *results;     /* (element-type FstProvisionResult) */
	gchar *dialect;         /* (owned) (nullable): options.dialect */
	FstKnownDevices *known; /* (owned) (nullable): which dialect a USB id speaks */
	FstLanes *lanes;        /* (owned) (nullable): the jig's lanes of the workspace */
	gint started;           /* devices started, for options.count */
	guint n_threads;
};

struct _FstGangWorker {
	FstGang *gang; /* (unowned) */
	gchar *port;   /* (owned) */
	GThread *thread;
	gint finished; /* atomic */
};

static void
fst_gang_report(
    FstGang *self, const gchar *port, const gchar *uid, FstStep step, const gchar *detail)
{
	FstProgress progress = {
	    .port = port,
	    .uid = uid,
	    .step = step,
	    .fraction = fst_step_is_final(step) ? 1.0 : 0.0,
	    .detail = detail,
	};
	if (self->progress != NULL)
		self->progress(&progress, self->user_data);
}

/* hands @result to the caller, or keeps it for fst_gang_wait() */
static void
fst_gang_add_result(FstGang *self, FstProvisionResult *result)
{
	if (self->options.on_result != NULL) {
		self->options.on_result(result, self->options.on_result_data);
		fst_provision_result_free(result);
		return;
	}
	g_mutex_lock(&self->lock);
	g_ptr_array_add(self->results, result);
	g_mutex_unlock(&self->lock);
}

/* a failure before the pipeline ran: the port (busy), the first answer (none)
 * at connect, or the device refused by the caller once it identified */
static void
fst_gang_add_failure(FstGang *self, const gchar *port, const gchar *uid, GError *error)
{
	FstProvisionResult *result = g_new0(FstProvisionResult, 1);
	result->port = g_strdup(port);
	result->uid = g_strdup(uid);
	result->error = error;
	result->step = uid != NULL ? FST_STEP_IDENTIFY : FST_STEP_CONNECT;
	fst_gang_report(self, port, uid, FST_STEP_FAILED, error->message);
	fst_gang_add_result(self, result);
}

/* a device the accept function left alone, provisioned already: a result of
 * its own, with the certificate it has in service */
static void
fst_gang_add_skipped(FstGang *self, const gchar *port, const gchar *uid)
{
	FstProvisionResult *result = g_new0(FstProvisionResult, 1);
	g_autoptr(FstDbCert) cert = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *detail = NULL;

	cert = fst_db_get_active_certificate(fst_station_get_db(self->station), uid, &error_local);
	result->port = g_strdup(port);
	result->uid = g_strdup(uid);
	result->skipped = TRUE;
	if (cert != NULL) {
		result->serial_hex = g_strdup(cert->serial_hex);
		detail =
		    g_strdup_printf("provisioned already (%s): nothing done", cert->serial_hex);
	}
	fst_gang_report(self,
	                port,
	                uid,
	                FST_STEP_SKIPPED,
	                detail != NULL ? detail : "provisioned already: nothing done");
	fst_gang_add_result(self, result);
}

static gboolean
fst_gang_stopping(FstGang *self)
{
	if (g_cancellable_is_cancelled(self->options.stop) ||
	    g_cancellable_is_cancelled(self->options.abort))
		return TRUE;
	return self->options.count > 0 &&
	       (guint)g_atomic_int_get(&self->started) >= self->options.count;
}

/* sleeps up to @ms, waking early when the gang stops */
static void
fst_gang_nap(FstGang *self, guint ms)
{
	for (guint slept = 0; slept < ms && !fst_gang_stopping(self); slept += 50)
		g_usleep(50 * 1000);
}

/* the device on @port, made through the dialect registry (the dialect asked
 * for, else the one the known-devices table gives the port), with the
 * profile's dialect options passed on; a dialect without such an option
 * ignores it */
static FstDevice *
fst_gang_new_device(FstGang *self, const gchar *port, GError **error)
{
	g_autoptr(FstDevice) device = NULL;
	gint64 sec_tag = fst_profile_get_sec_tag(self->profile);

	device = fst_device_new_for_port(
	    self->known, port, self->dialect, self->options.baud_rate, error);
	if (device == NULL)
		return NULL;
	/* the jig lane at the port's place names it in results and events */
	if (self->lanes != NULL && self->known != NULL && fst_lanes_get_size(self->lanes) > 0) {
		g_autoptr(GPtrArray) ports = NULL;
		g_autoptr(GError) error_lanes = NULL;
		if (fst_transport_kind_for_port(port) == FST_TRANSPORT_KIND_USB)
			ports = fst_ports_list_usb(self->known, &error_lanes);
		else
			ports = fst_ports_list_serial(self->known, &error_lanes);
		for (guint i = 0; ports != NULL && i < ports->len; i++) {
			FstPortInfo *info = g_ptr_array_index(ports, i);
			const gchar *lane = fst_lanes_match(self->lanes, info);
			if (lane != NULL && g_strcmp0(info->name, port) == 0)
				fst_device_set_lane(device, lane);
		}
	}
	if (sec_tag >= 0) {
		g_autofree gchar *value = g_strdup_printf("%" G_GINT64_FORMAT, sec_tag);
		g_autoptr(GError) error_local = NULL;
		if (!fst_device_set_option(device, "sec-tag", value, &error_local)) {
			if (!g_error_matches(error_local, FST_ERROR, FST_ERROR_NOT_SUPPORTED)) {
				g_propagate_prefixed_error(error,
				                           g_steal_pointer(&error_local),
				                           "%s: profile %s: ",
				                           port,
				                           fst_profile_get_name(self->profile));
				return NULL;
			}
			g_debug("%s: %s", port, error_local->message);
		}
	}
	return g_steal_pointer(&device);
}

/* identifies the device on @port on its own: its id, without recording */
static gchar *
fst_gang_peek(FstGang *self, const gchar *port, GError **error)
{
	g_autoptr(FstDevice) device = fst_gang_new_device(self, port, error);
	FstTransport *transport;
	gchar *uid;

	if (device == NULL)
		return NULL;
	transport = fst_device_get_transport(device);
	if (!fst_transport_open(transport, error))
		return NULL;
	if (!fst_device_identify(device, self->options.abort, error)) {
		fst_transport_close(transport);
		return NULL;
	}
	uid = g_strdup(fst_device_get_info(device)->uid);
	fst_transport_close(transport);
	return uid;
}

/* waits for a device whose id differs from @last_uid; NULL when stopping */
static gchar *
fst_gang_wait_next(FstGang *self, const gchar *port, const gchar *last_uid)
{
	gboolean told = FALSE;
	while (!fst_gang_stopping(self)) {
		g_autoptr(GError) error_local = NULL;
		g_autofree gchar *uid = fst_gang_peek(self, port, &error_local);
		if (uid != NULL && g_strcmp0(uid, last_uid) != 0)
			return g_steal_pointer(&uid);
		if (!told) {
			fst_gang_report(
			    self, port, NULL, FST_STEP_CONNECT, "waiting for the next device");
			told = TRUE;
		}
		fst_gang_nap(self, FST_GANG_POLL_MS);
	}
	return NULL;
}

static gpointer
fst_gang_worker_run(gpointer data)
{
	FstGangWorker *worker = data;
	FstGang *self = worker->gang;
	const gchar *port = worker->port;
	gboolean peek = self->options.count > 0 || self->options.accept != NULL;
	g_autofree gchar *last_uid = NULL;
	g_autoptr(FstPortLock) lock = NULL;
	g_autoptr(GError) error = NULL;

	if (g_cancellable_is_cancelled(self->options.stop))
		goto out;
	lock = fst_port_lock(port, &error);
	if (lock == NULL) {
		fst_gang_add_failure(self, port, NULL, g_steal_pointer(&error));
		goto out;
	}
	for (guint n = 0;; n++) {
		g_autofree gchar *uid = NULL;
		g_autoptr(FstDevice) device = NULL;
		FstProvisionResult *result;

		if (fst_gang_stopping(self))
			break;
		if (peek && self->options.count > 0) {
			uid = fst_gang_wait_next(self, port, last_uid);
			if (uid == NULL)
				break;
		} else if (peek) {
			uid = fst_gang_peek(self, port, &error);
			if (uid == NULL) {
				g_prefix_error(&error, "port %s: no device answered: ", port);
				fst_gang_add_failure(self, port, NULL, g_steal_pointer(&error));
				break;
			}
		}
		if (self->options.count > 0 &&
		    (guint)g_atomic_int_add(&self->started, 1) >= self->options.count)
			break;
		g_free(last_uid);
		last_uid = g_strdup(uid);
		if (self->options.accept != NULL &&
		    !self->options.accept(uid, port, self->options.accept_data, &error)) {
			if (error != NULL)
				fst_gang_add_failure(self, port, uid, g_steal_pointer(&error));
			else
				fst_gang_add_skipped(self, port, uid);
			/* a skipped device does not use up the count */
			if (self->options.count > 0)
				g_atomic_int_add(&self->started, -1);
			if (self->options.count == 0)
				break;
			continue;
		}
		device = fst_gang_new_device(self, port, &error);
		if (device == NULL) {
			fst_gang_add_failure(self, port, uid, g_steal_pointer(&error));
			break;
		}
		if (self->options.trust_only)
			result = fst_pipeline_update_trust(self->station,
			                                   self->profile,
			                                   device,
			                                   self->progress,
			                                   self->user_data,
			                                   self->options.abort);
		else
			result = fst_pipeline_provision(self->station,
			                                self->profile,
			                                device,
			                                self->progress,
			                                self->user_data,
			                                self->options.abort);
		if (result->uid != NULL) {
			g_free(last_uid);
			last_uid = g_strdup(result->uid);
		}
		fst_gang_add_result(self, result);
		if (self->options.count == 0)
			break;
	}
out:
	g_atomic_int_set(&worker->finished, 1);
	return NULL;
}

static void
fst_gang_worker_free(FstGangWorker *worker)
{
	if (worker->thread != NULL)
		g_thread_join(worker->thread);
	g_free(worker->port);
	g_free(worker);
}

/**
 * fst_gang_new:
 * @station: the station, shared by every worker
 * @profile: the profile for every port
 * @options: how to run (copied; the cancellables are referenced)
 * @progress: (nullable): called from the worker threads, concurrently
 * @user_data: data for @progress
 *
 * Makes an empty gang; fst_gang_add_port() starts a worker per port.
 *
 * Returns: (transfer full): the gang; free it with fst_gang_free(), which
 * waits for the workers
 */
FstGang *
fst_gang_new(FstStation *station,
             const FstProfile *profile,
             const FstGangOptions *options,
             FstProgressFunc progress,
             gpointer user_data)
{
	FstGang *self = g_new0(FstGang, 1);
	g_autoptr(GError) error = NULL;
	fst_file_raise_open_limit();
	self->station = station;
	self->profile = profile;
	self->options = *options;
	self->dialect = g_strdup(options->dialect);
	self->options.dialect = self->dialect;
	self->known = fst_known_devices_load_default(&error);
	if (self->known == NULL)
		g_warning("every port speaks %s: %s", FST_DIALECT_DEFAULT, error->message);
	g_clear_error(&error);
	self->lanes = fst_lanes_load(fst_station_get_workspace(station), &error);
	if (self->lanes == NULL)
		g_warning("results name no lanes: %s", error->message);
	if (self->options.stop != NULL)
		g_object_ref(self->options.stop);
	if (self->options.abort != NULL)
		g_object_ref(self->options.abort);
	self->progress = progress;
	self->user_data = user_data;
	g_mutex_init(&self->lock);
	self->workers = g_ptr_array_new_with_free_func((GDestroyNotify)fst_gang_worker_free);
	self->results = g_ptr_array_new_with_free_func((GDestroyNotify)fst_provision_result_free);
	return self;
}

/**
 * fst_gang_add_port:
 * @self: the gang
 * @port: a serial port path
 *
 * Starts a worker thread on @port. Its outcome, including a busy port or a
 * device that does not answer, comes back as a result.
 */
void
fst_gang_add_port(FstGang *self, const gchar *port)
{
	g_autofree gchar *name = g_strdup_printf("fst-port-%u", self->n_threads++);
	FstGangWorker *worker = g_new0(FstGangWorker, 1);
	worker->gang = self;
	worker->port = g_strdup(port);
	worker->thread = g_thread_new(name, fst_gang_worker_run, worker);
	g_ptr_array_add(self->workers, worker);
}

/**
 * fst_gang_port_is_running:
 * @self: the gang
 * @port: a serial port path
 *
 * Returns: %TRUE while a worker of this gang is on @port
 */
gboolean
fst_gang_port_is_running(FstGang *self, const gchar *port)
{
	for (guint i = 0; i < self->workers->len; i++) {
		FstGangWorker *worker = g_ptr_array_index(self->workers, i);
		if (g_strcmp0(worker->port, port) == 0 && !g_atomic_int_get(&worker->finished))
			return TRUE;
	}
	return FALSE;
}

/**
 * fst_gang_take_results:
 * @self: the gang
 *
 * Takes the results that came in so far, and reaps the finished workers, so
 * that a long watch does not grow.
 *
 * Returns: (transfer container) (element-type FstProvisionResult): results in
 * the order they finished
 */
GPtrArray *
fst_gang_take_results(FstGang *self)
{
	GPtrArray *taken;
	for (guint i = 0; i < self->workers->len;) {
		FstGangWorker *worker = g_ptr_array_index(self->workers, i);
		if (g_atomic_int_get(&worker->finished))
			g_ptr_array_remove_index(self->workers, i);
		else
			i++;
	}
	g_mutex_lock(&self->lock);
	taken = g_steal_pointer(&self->results);
	self->results = g_ptr_array_new_with_free_func((GDestroyNotify)fst_provision_result_free);
	g_mutex_unlock(&self->lock);
	return taken;
}

/**
 * fst_gang_wait:
 * @self: the gang
 *
 * Waits for every worker to end.
 *
 * Returns: (transfer container) (element-type FstProvisionResult): the results
 * not taken yet
 */
GPtrArray *
fst_gang_wait(FstGang *self)
{
	g_ptr_array_set_size(self->workers, 0);
	return fst_gang_take_results(self);
}

/**
 * fst_gang_free:
 * @self: (nullable): a gang
 *
 * Waits for its workers, then frees it and the results not taken.
 */
void
fst_gang_free(FstGang *self)
{
	if (self == NULL)
		return;
	g_ptr_array_unref(self->workers);
	g_ptr_array_unref(self->results);
	g_free(self->dialect);
	fst_known_devices_free(self->known);
	fst_lanes_free(self->lanes);
	g_mutex_clear(&self->lock);
	g_clear_object(&self->options.stop);
	g_clear_object(&self->options.abort);
	g_free(self);
}

/* the order of @ports, for results that came in finishing order */
static gint
fst_gang_port_index(const gchar *const *ports, const gchar *port)
{
	for (guint i = 0; ports[i] != NULL; i++) {
		if (g_strcmp0(ports[i], port) == 0)
			return (gint)i;
	}
	return G_MAXINT;
}

typedef struct {
	const gchar *const *ports;
} FstGangSortData;

static gint
fst_gang_compare_results(gconstpointer a, gconstpointer b, gpointer user_data)
{
	const FstGangSortData *data = user_data;
	const FstProvisionResult *ra = *(const FstProvisionResult *const *)a;
	const FstProvisionResult *rb = *(const FstProvisionResult *const *)b;
	gint ia = fst_gang_port_index(data->ports, ra->port);
	gint ib = fst_gang_port_index(data->ports, rb->port);
	return ia < ib ? -1 : (ia > ib ? 1 : 0);
}

/**
 * fst_gang_run:
 * @station: the station
 * @profile: the profile for every port
 * @ports: (array zero-terminated=1): serial port paths
 * @options: how to run (see #FstGangOptions)
 * @progress: (nullable): called from the worker threads, concurrently
 * @user_data: data for @progress
 *
 * Provisions the devices on all @ports at once and waits for all.
 *
 * Returns: (transfer container) (element-type FstProvisionResult): the
 * results, grouped in the order of @ports (a port gives several with a count)
 */
GPtrArray *
fst_gang_run(FstStation *station,
             const FstProfile *profile,
             const gchar *const *ports,
             const FstGangOptions *options,
             FstProgressFunc progress,
             gpointer user_data)
{
	g_autoptr(FstGang) gang = fst_gang_new(station, profile, options, progress, user_data);
	FstGangSortData sort = {.ports = ports};
	GPtrArray *results;

	for (guint i = 0; ports[i] != NULL; i++)
		fst_gang_add_port(gang, ports[i]);
	results = fst_gang_wait(gang);
	g_ptr_array_sort_with_data(results, fst_gang_compare_results, &sort);
	return results;
}

/**
 * fst_gang_provision:
 * @station: the station
 * @profile: the profile for every port
 * @ports: (array zero-terminated=1): serial port paths
 * @baud_rate: line rate for every port
 * @progress: (nullable): called from the worker threads, concurrently
 * @user_data: data for @progress
 * @cancellable: (nullable): stops every worker, devices in flight included
 *
 * Provisions the device on each port, one per port, all at once, and waits
 * for all: fst_gang_run() with no count and no accept function.
 *
 * Returns: (transfer container) (element-type FstProvisionResult): one result
 * per port, in the order of @ports
 */
GPtrArray *
fst_gang_provision(FstStation *station,
                   const FstProfile *profile,
                   const gchar *const *ports,
                   guint baud_rate,
                   FstProgressFunc progress,
                   gpointer user_data,
                   GCancellable *cancellable)
{
	FstGangOptions options = {
	    .baud_rate = baud_rate,
	    .stop = cancellable,
	    .abort = cancellable,
	};
	return fst_gang_run(station, profile, ports, &options, progress, user_data);
}
