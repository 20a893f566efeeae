/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FstJob: one long piece of station work (a gang of ports, a manifest, a
 * watch, the demo) run in a thread of its own, for the CLI and the GUI alike.
 *
 * The work itself is the engine's (fst-gang.c, fst-batch.c, fst-watch.c,
 * fst-demo.c); the job adds what every front end needs around it:
 *  - it runs off the caller's thread (fst_job_run_async()), opening the
 *    station there too when it was not given one, since unlocking a CA and
 *    migrating a database take time;
 *  - progress and results, which the engine reports from its port worker
 *    threads, arrive as the "progress" and "device-finished" signals on the
 *    main context of the thread that started the job, in the order they
 *    happened, and before the job's own callback;
 *  - the two-level stop: fst_job_stop() starts no new device and lets the
 *    devices in flight finish, fst_job_abort() (or the cancellable given to
 *    fst_job_run_async()) stops those too; the pipeline records them failed;
 *  - the line stops itself as fst_job_stop() stops it when a device fails
 *    for a reason of the station's that every next board would meet too:
 *    the database could not record how it ended (a full disk), or no
 *    certificate can be issued (the CA expired, its token is gone, AWS IoT
 *    refuses the station's credentials);
 *  - a summary of counts, not a list of results, so that a long run does not
 *    grow: whoever wants the results keeps them from "device-finished".
 */

#define G_LOG_DOMAIN "FstJob"

#include "fst-job.h"

#include <openssl/x509.h>

#include "fst-aws-credentials.h"
#include "fst-ca-store.h"
#include "fst-central-station.h"
#include "fst-db-queue.h"
#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-ports.h"
#include "fst-registration.h"
#include "fst-watch.h"

struct _FstJob {
	GObject parent_instance;
	FstJobKind kind;
	gchar *workspace;     /* (owned) */
	gchar *profile;       /* (owned) (nullable) */
	gchar *lot;           /* (owned) (nullable) */
	gchar *operator_name; /* (owned) (nullable) */
	gchar *devsim;        /* (owned) (nullable) */
	gchar *dialect;       /* (owned) (nullable) */
	gchar **ports;        /* (owned) (nullable) */
	guint baud_rate;
	guint count;
	guint poll_ms;
	guint n_devices;
	FstStation *station;         /* (owned) (nullable): given, or opened by the run */
	FstBatch *batch;             /* (owned) (nullable) */
	FstInteraction *interaction; /* (owned) (nullable): asks for the CA secret */
	GCancellable *stop;          /* (owned) */
	GCancellable *abort;         /* (owned) */
	GCancellable *cancellable;   /* (owned) (nullable): from fst_job_run_async() */
	gulong cancelled_id;
	GMainContext *context;   /* (owned) (nullable): where signals go while running */
	GMutex lock;             /* protects summary, failures and station */
	GThread *thread;         /* (owned) (nullable): the run's, joined when it is over */
	FstProfile *run_profile; /* (owned) (nullable): the profile while the devices run */
	GSource *ca_watch;       /* (owned) (nullable): looks at the CA's end on @context
	                          * while the devices run, boards or none */
	FstJobSummary summary;
	FstFailureGroups *failures; /* (owned): the failed devices by class */
	GError *halt_error;         /* (owned) (nullable): why the line stopped itself */
	gboolean started;
};

/* how long the end of a job lets AWS IoT registration catch up */
#define FST_JOB_REGISTRATION_DRAIN_US (10 * G_USEC_PER_SEC)
/* ... and how long it waits for a certificate to be registered */
#define FST_JOB_REGISTRATION_IDLE_US (3 * G_USEC_PER_SEC)

G_DEFINE_TYPE(FstJob, fst_job, G_TYPE_OBJECT)

enum { SIGNAL_PROGRESS, SIGNAL_DEVICE_FINISHED, SIGNAL_WARNING, SIGNAL_LAST };

static guint signals[SIGNAL_LAST] = {0};

/* one progress report, result or warning on its way to the caller's main
 * context */
typedef struct {
	FstJob *job;                /* (owned) */
	FstProgress *progress;      /* (owned) (nullable) */
	FstProvisionResult *result; /* (owned) (nullable) */
	gchar *warning_kind;        /* (owned) (nullable) */
	gchar *warning;             /* (owned) (nullable) */
} FstJobEvent;

static void
fst_job_event_free(gpointer data)
{
	FstJobEvent *event = data;
	g_object_unref(event->job);
	fst_progress_free(event->progress);
	fst_provision_result_free(event->result);
	g_free(event->warning_kind);
	g_free(event->warning);
	g_free(event);
}

static gboolean
fst_job_event_emit(gpointer data)
{
	FstJobEvent *event = data;
	if (event->progress != NULL)
		g_signal_emit(event->job, signals[SIGNAL_PROGRESS], 0, event->progress);
	else if (event->warning != NULL)
		g_signal_emit(
		    event->job, signals[SIGNAL_WARNING], 0, event->warning_kind, event->warning);
	else
		g_signal_emit(event->job, signals[SIGNAL_DEVICE_FINISHED], 0, event->result);
	return G_SOURCE_REMOVE;
}

/* from any thread: sources of one priority run in the order they were added */
static void
fst_job_post_event(FstJob *self, FstJobEvent *event)
{
	GSource *source = g_idle_source_new();

	g_source_set_priority(source, G_PRIORITY_DEFAULT);
	g_source_set_callback(source, fst_job_event_emit, event, fst_job_event_free);
	g_source_set_static_name(source, "[fst] job event");
	g_source_attach(source, self->context);
	g_source_unref(source);
}

static void
fst_job_post(FstJob *self, FstProgress *progress, FstProvisionResult *result)
{
	FstJobEvent *event = g_new0(FstJobEvent, 1);

	event->job = g_object_ref(self);
	event->progress = progress;
	event->result = result;
	fst_job_post_event(self, event);
}

/* a warning of @kind (FstJob::warning) to the caller, from any thread */
static void
fst_job_post_warning(FstJob *self, const gchar *kind, gchar *text)
{
	FstJobEvent *event = g_new0(FstJobEvent, 1);

	event->job = g_object_ref(self);
	event->warning_kind = g_strdup(kind);
	event->warning = text;
	fst_job_post_event(self, event);
}

static void
fst_job_progress_cb(const FstProgress *progress, gpointer user_data)
{
	FstJob *self = FST_JOB(user_data);
	fst_job_post(self, fst_progress_copy(progress), NULL);
}

/* a warning of the station's for the operator, from any thread: told as
 * the engine tells it (g_warning()), and to the caller (FstJob::warning) */
static void G_GNUC_PRINTF(3, 4)
    fst_job_warn(FstJob *self, const gchar *kind, const gchar *format, ...)
{
	va_list args;
	gchar *text;

	va_start(args, format);
	text = g_strdup_vprintf(format, args);
	va_end(args);
	g_warning("%s", text);
	fst_job_post_warning(self, kind, text);
}

/* the CA's end, told again when it changed (the days pass during a long
 * run); told already by the station (g_warning()), so only posted */
static void
fst_job_check_ca(FstJob *self)
{
	gchar *text = NULL;

	g_mutex_lock(&self->lock);
	if (self->station != NULL && self->run_profile != NULL)
		text = fst_station_check_ca_warning(self->station, self->run_profile);
	g_mutex_unlock(&self->lock);
	if (text != NULL)
		fst_job_post_warning(self, "ca-end", text);
}

/* the CA's end looked at while the line waits for boards: a watch or a GUI
 * left open over a weekend hears of the CA's end when it comes, not at the
 * next board, which the line would stop at */
static gboolean
fst_job_ca_watch_cb(gpointer user_data)
{
	fst_job_check_ca(FST_JOB(user_data));
	return G_SOURCE_CONTINUE;
}

/* why the line must stop after @result, or %NULL: a failure of the station
 * rather than of the device, which every next board would meet too, or be
 * burned with nothing to show for it */
static GError *
fst_job_halt_error(const FstProvisionResult *result)
{
	const gchar *who = result->uid != NULL ? result->uid : result->port;

	/* the database cannot record (a full disk, a lost file) */
	if (result->unrecorded != NULL)
		return g_error_new(FST_ERROR,
		                   FST_ERROR_DATABASE,
		                   FST_JOB_HALT_PREFIX "the database could not record how %s "
		                                       "ended: %s",
		                   who,
		                   result->unrecorded->message);
	/* the issuer cannot sign: the CA expired or would be outlived during
	 * the run, its token was removed, AWS IoT refuses the station; or the
	 * profile cannot be issued from any more (its fixed end passed during
	 * the run): a configuration error at issue is the station's, since the
	 * device was checked against the profile before */
	if (g_error_matches(result->error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE) ||
	    (g_error_matches(result->error, FST_ERROR, FST_ERROR_CONFIG) &&
	     result->step == FST_STEP_ISSUE))
		return g_error_new(FST_ERROR,
		                   result->error->code,
		                   FST_JOB_HALT_PREFIX "no certificate can be issued (%s was "
		                                       "the first device refused): %s",
		                   who,
		                   result->error->message);
	return NULL;
}

static void
fst_job_result_cb(const FstProvisionResult *result, gpointer user_data)
{
	FstJob *self = FST_JOB(user_data);
	gboolean halt = FALSE;

	g_mutex_lock(&self->lock);
	switch (fst_provision_result_get_status(result)) {
	case FST_RESULT_PASSED:
		self->summary.provisioned++;
		break;
	case FST_RESULT_SKIPPED:
		self->summary.skipped++;
		break;
	case FST_RESULT_FAILED:
	default:
		self->summary.failed++;
		fst_provision_result_group_failure(result, self->failures);
		break;
	}
	if (self->halt_error == NULL) {
		self->halt_error = fst_job_halt_error(result);
		halt = self->halt_error != NULL;
	}
	g_mutex_unlock(&self->lock);
	/* outside the lock: the stop's handlers may take it */
	if (halt)
		g_cancellable_cancel(self->stop);
	fst_job_post(self, NULL, fst_provision_result_copy(result));
	fst_job_check_ca(self);
}

static gboolean
fst_job_check_ports(FstJob *self, const gchar *const *ports, GError **error)
{
	if (ports != NULL && ports[0] != NULL)
		return TRUE;
	g_set_error_literal(error,
	                    FST_ERROR,
	                    FST_ERROR_CONFIG,
	                    "no port to provision: name the gang's ports, or set the workspace's");
	return FALSE;
}

/* the central registry's sync worker for the run, if the workspace has one:
 * it ships the records in the background while the job runs, and the end of
 * the job gives it the workspace's drain-ms to ship what is left */
static FstCentralWorker *
fst_job_central_start(FstJob *self, FstStation *station)
{
	g_autoptr(GError) error_local = NULL;
	FstCentralWorker *worker = fst_central_worker_start(station, &error_local);
	if (worker == NULL && error_local != NULL)
		fst_job_warn(self, "central", "central sync not started: %s", error_local->message);
	return worker;
}

/* the AWS IoT registration worker for the run, when the profile registers
 * its certificates: it drains the registration queue in the background, so
 * the line never waits for AWS. Without credentials or AWS the rows wait in
 * the queue for `fleetstation register push`. */
static FstRegistration *
fst_job_registration_start(FstJob *self, FstStation *station, const FstProfile *profile)
{
	const FstProfileAws *aws = fst_profile_get_aws(profile);
	g_autoptr(FstAwsCredentials) creds = NULL;
	g_autoptr(FstAwsIot) iot = NULL;
	g_autoptr(FstRegistration) registration = NULL;
	g_autoptr(GHashTable) ca_pems = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *db_path = g_build_filename(self->workspace, "station.db", NULL);
	FstRegistrationConfig config = {
	    .thing_name_template = aws->thing_name,
	    .policy_name = aws->policy,
	    .policy_document = aws->policy_document,
	    .with_ca = aws->with_ca,
	    .inactive = aws->inactive,
	};

	/* a certificate AWS issued is revoked there through the queue as well */
	if (!aws->register_certs && fst_profile_get_issuer(profile) != FST_PROFILE_ISSUER_AWS)
		return NULL;
	creds = fst_aws_credentials_load(NULL, aws->region, NULL, &error_local);
	if (creds == NULL) {
		fst_job_warn(self,
		             "registration",
		             "AWS IoT registration not started, the certificates wait in the "
		             "registration queue for `fleetstation register push`: %s",
		             error_local->message);
		return NULL;
	}
	iot = fst_aws_iot_new(creds, &error_local);
	if (iot == NULL) {
		fst_job_warn(self,
		             "registration",
		             "AWS IoT registration not started, the certificates wait in the "
		             "registration queue for `fleetstation register push`: %s",
		             error_local->message);
		return NULL;
	}
	if (aws->with_ca) {
		g_autofree gchar *ca_dir =
		    g_build_filename(fst_station_get_workspace(station), "ca", NULL);
		ca_pems = fst_ca_store_issuing_pems(ca_dir);
		config.ca_pems = ca_pems;
	}
	registration = fst_registration_new(db_path, iot, &config, &error_local);
	if (registration == NULL || !fst_registration_start(registration, &error_local)) {
		fst_job_warn(self,
		             "registration",
		             "AWS IoT registration not started, the certificates wait in the "
		             "registration queue for `fleetstation register push`: %s",
		             error_local->message);
		return NULL;
	}
	g_debug("registering certificates with AWS IoT in %s (credentials from %s)",
	        aws->region,
	        creds->source);
	return g_steal_pointer(&registration);
}

/* the work of the run, in the job's thread */
static gboolean
fst_job_work(FstJob *self, FstRegistration **registration, GError **error)
{
	g_autoptr(FstCentralWorker) central = NULL;
	g_autoptr(FstStation) station = NULL;
	g_autoptr(FstDemo) demo = NULL;
	g_autoptr(FstProfile) profile = NULL;
	const gchar *const *ports = (const gchar *const *)self->ports;
	g_auto(GStrv) resolved = NULL;
	const FstProfile *run_profile;

	if (self->kind == FST_JOB_KIND_DEMO) {
		FstDemoOptions demo_options = {
		    .workspace = self->workspace,
		    .n_devices = self->n_devices,
		    .baud_rate = self->baud_rate,
		    .devsim = self->devsim,
		};
		demo = fst_demo_start(&demo_options, error);
		if (demo == NULL)
			return FALSE;
		ports = fst_demo_get_ports(demo);
	}

	g_mutex_lock(&self->lock);
	if (self->station != NULL)
		station = fst_station_ref(self->station);
	g_mutex_unlock(&self->lock);
	if (station == NULL) {
		station = fst_station_open_as(
		    self->workspace, self->interaction, self->operator_name, error);
		if (station == NULL)
			return FALSE;
		g_mutex_lock(&self->lock);
		self->station = fst_station_ref(station);
		g_mutex_unlock(&self->lock);
	}
	central = fst_job_central_start(self, station);

	if (self->kind == FST_JOB_KIND_BATCH) {
		FstBatchOptions batch_options = {
		    .profile = self->profile,
		    .lot = self->lot,
		    .ports = ports,
		    .baud_rate = self->baud_rate,
		    .stop = self->stop,
		    .abort = self->abort,
		    .on_result = fst_job_result_cb,
		    .on_result_data = self,
		};
		if (self->batch == NULL) {
			g_set_error_literal(error,
			                    FST_ERROR,
			                    FST_ERROR_INTERNAL,
			                    "a batch job needs a manifest (fst_job_set_batch())");
			return FALSE;
		}
		if (self->operator_name != NULL &&
		    !fst_station_set_operator(station, self->operator_name, error))
			return FALSE;
		if (self->profile != NULL) {
			g_autoptr(FstProfile) batch_profile =
			    fst_station_load_profile(station, self->profile, NULL);
			if (batch_profile != NULL)
				*registration =
				    fst_job_registration_start(self, station, batch_profile);
		}
		return fst_batch_run(
		    self->batch, station, &batch_options, fst_job_progress_cb, self, error);
	}

	if (self->profile == NULL) {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_CONFIG,
		                    "no profile: name one, or set the workspace's");
		return FALSE;
	}
	/* a gang's ports named by jig lane are the ports at those places now */
	if (self->kind != FST_JOB_KIND_WATCH) {
		resolved =
		    fst_lanes_resolve_ports(fst_station_get_workspace(station), ports, error);
		if (resolved == NULL)
			return FALSE;
		ports = (const gchar *const *)resolved;
	}
	profile =
	    fst_station_start_run(station, self->profile, self->lot, self->operator_name, error);
	if (profile == NULL)
		return FALSE;
	if (self->kind != FST_JOB_KIND_TRUST_ONLY)
		*registration = fst_job_registration_start(self, station, profile);
	/* the CA's end, told by the station already; and again as days pass */
	{
		gchar *ca_warning = fst_station_get_ca_warning(station, profile);
		if (ca_warning != NULL)
			fst_job_post_warning(self, "ca-end", ca_warning);
	}
	/* the job keeps the profile while the devices run, for the CA's check
	 * after each and as time passes (both ended by fst_job_thread()) */
	g_mutex_lock(&self->lock);
	self->run_profile = g_steal_pointer(&profile);
	if (self->context != NULL) {
		self->ca_watch = g_timeout_source_new(fst_station_ca_check_interval_ms());
		g_source_set_callback(
		    self->ca_watch, fst_job_ca_watch_cb, g_object_ref(self), g_object_unref);
		g_source_attach(self->ca_watch, self->context);
	}
	g_mutex_unlock(&self->lock);
	run_profile = self->run_profile;

	if (self->kind == FST_JOB_KIND_WATCH) {
		FstWatchOptions watch_options = {
		    .patterns = ports,
		    .baud_rate = self->baud_rate,
		    .poll_ms = self->poll_ms,
		    .stop = self->stop,
		    .abort = self->abort,
		};
		return fst_watch_run(station,
		                     run_profile,
		                     &watch_options,
		                     fst_job_progress_cb,
		                     fst_job_result_cb,
		                     self,
		                     error);
	}

	if (!fst_job_check_ports(self, ports, error))
		return FALSE;
	{
		FstGangOptions gang_options = {
		    .baud_rate = self->baud_rate,
		    .count = self->count,
		    .stop = self->stop,
		    .abort = self->abort,
		    .trust_only = self->kind == FST_JOB_KIND_TRUST_ONLY,
		    .dialect = self->dialect,
		    .on_result = fst_job_result_cb,
		    .on_result_data = self,
		};
		/* empty: the results went to fst_job_result_cb() */
		g_ptr_array_unref(fst_gang_run(
		    station, run_profile, ports, &gang_options, fst_job_progress_cb, self));
	}
	return TRUE;
}

/* the end of the run: the registration worker goes on while AWS takes the
 * certificates, for a few seconds at most; it stops at once when the job was
 * aborted or AWS puts a row off (offline, throttled). What is left, and the
 * row in flight, wait in the queue for the next run or `register push`. */
static void
fst_job_registration_stop(FstJob *self, FstRegistration *registration)
{
	FstRegistrationStats before = {0};
	gint64 deadline = g_get_monotonic_time() + FST_JOB_REGISTRATION_DRAIN_US;

	gint64 progress_at = g_get_monotonic_time();
	guint done = 0;

	fst_registration_get_stats(registration, &before);
	done = before.registered;
	while (!g_cancellable_is_cancelled(self->abort) && g_get_monotonic_time() < deadline) {
		FstRegistrationStats now = {0};
		gint64 pending = 0;
		if (!fst_job_get_registration_queue(self, &pending, NULL, NULL) || pending == 0)
			break;
		fst_registration_get_stats(registration, &now);
		if (now.deferred > before.deferred || now.failed > before.failed)
			break;
		/* rows put off by an earlier run are not due: do not wait for them */
		if (now.registered != done) {
			done = now.registered;
			progress_at = g_get_monotonic_time();
		} else if (g_get_monotonic_time() - progress_at > FST_JOB_REGISTRATION_IDLE_US) {
			break;
		}
		g_usleep(50000);
	}
	fst_registration_stop(registration);
}

static gpointer
fst_job_thread(gpointer data)
{
	g_autoptr(GTask) task = data;
	FstJob *self = g_task_get_source_object(task);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstRegistration) registration = NULL;
	gint64 started = g_get_monotonic_time();
	gboolean ok = fst_job_work(self, &registration, &error);

	g_mutex_lock(&self->lock);
	g_clear_pointer(&self->run_profile, fst_profile_free);
	if (self->ca_watch != NULL) {
		g_source_destroy(self->ca_watch);
		g_clear_pointer(&self->ca_watch, g_source_unref);
	}
	self->summary.elapsed_us = g_get_monotonic_time() - started;
	self->summary.halted = self->halt_error != NULL;
	self->summary.stopped = g_cancellable_is_cancelled(self->stop) && !self->summary.halted;
	self->summary.aborted = g_cancellable_is_cancelled(self->abort);
	if (ok && self->halt_error != NULL) {
		ok = FALSE;
		error = g_error_copy(self->halt_error);
	}
	g_mutex_unlock(&self->lock);
	if (registration != NULL)
		fst_job_registration_stop(self, registration);

	/* the task's callback is queued after every event this run posted */
	if (!ok)
		g_task_return_error(task, g_steal_pointer(&error));
	else
		g_task_return_boolean(task, TRUE);
	return NULL;
}

static void
fst_job_cancelled_cb(GCancellable *cancellable, gpointer user_data)
{
	FstJob *self = FST_JOB(user_data);
	fst_job_abort(self);
}

/**
 * fst_job_run_async:
 * @self: a job that has not run
 * @cancellable: (nullable): aborts the job, as fst_job_abort() does
 * @callback: called on the caller's main context when the job has ended
 * @user_data: data for @callback
 *
 * Starts the job in a thread of its own. Until @callback, the "progress" and
 * "device-finished" signals are emitted on the thread-default main context of
 * the caller, which must be iterated. A job runs once.
 */
void
fst_job_run_async(FstJob *self,
                  GCancellable *cancellable,
                  GAsyncReadyCallback callback,
                  gpointer user_data)
{
	g_autoptr(GTask) task = NULL;

	g_return_if_fail(FST_IS_JOB(self));
	g_return_if_fail(!self->started);

	self->started = TRUE;
	self->context = g_main_context_ref_thread_default();
	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, fst_job_run_async);
	g_task_set_check_cancellable(task, FALSE);
	if (cancellable != NULL) {
		self->cancellable = g_object_ref(cancellable);
		self->cancelled_id = g_cancellable_connect(
		    cancellable, G_CALLBACK(fst_job_cancelled_cb), self, NULL);
	}
	self->thread = g_thread_new("fst-job", fst_job_thread, g_steal_pointer(&task));
}

/* waits for the run's thread to end, thread-local state (OpenSSL's
 * per-thread random generators and caches) freed; never from the run's own
 * thread, which lets go of it instead */
static void
fst_job_join(FstJob *self)
{
	GThread *thread = g_steal_pointer(&self->thread);
	if (thread == NULL)
		return;
	if (thread == g_thread_self())
		g_thread_unref(thread);
	else
		g_thread_join(thread);
}

/**
 * fst_job_run_finish:
 * @self: the job
 * @result: the result given to the callback
 * @error: (nullable): return location
 *
 * A job fails only when its run could not happen or went wrong as a whole
 * (the workspace, the CA, the profile, the manifest), or when the line
 * stopped itself (the summary's @halted: its counts and results stand; the
 * error is fst_job_get_halt_error()'s: %FST_ERROR_DATABASE when the database
 * could not record, %FST_ERROR_CA_UNAVAILABLE when no certificate could be
 * issued); a device that fails is a "device-finished" result and a count in
 * fst_job_get_summary().
 *
 * Returns: %TRUE when the run happened and was not halted
 */
gboolean
fst_job_run_finish(FstJob *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	if (self->cancellable != NULL) {
		g_cancellable_disconnect(self->cancellable, self->cancelled_id);
		self->cancelled_id = 0;
		g_clear_object(&self->cancellable);
	}
	/* the thread has returned the result: what is left of it is its exit */
	fst_job_join(self);
	return g_task_propagate_boolean(G_TASK(result), error);
}

/**
 * fst_job_stop:
 * @self: a job
 *
 * Starts no new device; the devices in flight finish and are recorded. Safe
 * from any thread, and from a signal handler's main-context callback.
 */
void
fst_job_stop(FstJob *self)
{
	g_return_if_fail(FST_IS_JOB(self));
	g_cancellable_cancel(self->stop);
}

/**
 * fst_job_abort:
 * @self: a job
 *
 * Stops the devices in flight too: each is recorded failed at the step it was
 * in (never done); a certificate issued for it stays recorded. Safe from any
 * thread.
 */
void
fst_job_abort(FstJob *self)
{
	g_return_if_fail(FST_IS_JOB(self));
	g_cancellable_cancel(self->stop);
	g_cancellable_cancel(self->abort);
}

/**
 * fst_job_get_stop:
 * @self: a job
 *
 * Returns: (transfer none): the cancellable fst_job_stop() cancels
 */
GCancellable *
fst_job_get_stop(FstJob *self)
{
	g_return_val_if_fail(FST_IS_JOB(self), NULL);
	return self->stop;
}

/**
 * fst_job_get_abort:
 * @self: a job
 *
 * Returns: (transfer none): the cancellable fst_job_abort() cancels
 */
GCancellable *
fst_job_get_abort(FstJob *self)
{
	g_return_val_if_fail(FST_IS_JOB(self), NULL);
	return self->abort;
}

/**
 * fst_job_list_failure_groups:
 * @self: a job
 *
 * The devices that failed so far, grouped by class (error code and step, see
 * fst-failure-groups.c), for a summary or a counter: what went wrong where,
 * with a few device ids and a message as examples. Safe while the job runs.
 *
 * Returns: (transfer container) (element-type FstFailureGroup): the groups,
 * most devices first
 */
GPtrArray *
fst_job_list_failure_groups(FstJob *self)
{
	g_autoptr(GMutexLocker) locker = NULL;
	g_return_val_if_fail(FST_IS_JOB(self), NULL);
	locker = g_mutex_locker_new(&self->lock);
	return fst_failure_groups_list(self->failures);
}

/**
 * fst_job_get_summary:
 * @self: a job
 *
 * Returns: (transfer none): the counts so far; final once the job's callback
 * runs
 */
const FstJobSummary *
fst_job_get_summary(FstJob *self)
{
	g_return_val_if_fail(FST_IS_JOB(self), NULL);
	return &self->summary;
}

/**
 * fst_job_get_halt_error:
 * @self: a job
 *
 * Returns: (transfer none) (nullable): why the line stopped itself (the
 *   summary's @halted), the error fst_job_run_finish() gives:
 *   %FST_ERROR_DATABASE or %FST_ERROR_CA_UNAVAILABLE; %NULL when it did not
 */
const GError *
fst_job_get_halt_error(FstJob *self)
{
	g_autoptr(GMutexLocker) locker = NULL;
	g_return_val_if_fail(FST_IS_JOB(self), NULL);
	locker = g_mutex_locker_new(&self->lock);
	return self->halt_error;
}

/**
 * fst_job_get_kind:
 * @self: a job
 *
 * Returns: what the job does
 */
FstJobKind
fst_job_get_kind(FstJob *self)
{
	g_return_val_if_fail(FST_IS_JOB(self), FST_JOB_KIND_PROVISION);
	return self->kind;
}

/**
 * fst_job_set_station:
 * @self: a job that has not run
 * @station: an open station
 *
 * Runs the job on @station (kept open by the caller, e.g. for a shift)
 * instead of opening the workspace.
 */
void
fst_job_set_station(FstJob *self, FstStation *station)
{
	g_return_if_fail(FST_IS_JOB(self));
	g_return_if_fail(!self->started);
	g_mutex_lock(&self->lock);
	g_clear_pointer(&self->station, fst_station_unref);
	self->station = fst_station_ref(station);
	g_mutex_unlock(&self->lock);
}

/**
 * fst_job_set_interaction:
 * @self: a job that has not run
 * @interaction: (nullable): how the job asks for the CA passphrase or token PIN
 *   when it opens the workspace (a dialog in the GUI); %NULL for the station's
 *   default (fst_station_set_default_interaction())
 *
 * The interaction is called from the job's thread; #FstInteraction's
 * implementations hop to their own main context, as GTlsInteraction does.
 */
void
fst_job_set_interaction(FstJob *self, FstInteraction *interaction)
{
	g_return_if_fail(FST_IS_JOB(self));
	g_return_if_fail(!self->started);
	g_set_object(&self->interaction, interaction);
}

/**
 * fst_job_get_station:
 * @self: a job
 *
 * Returns: (transfer none) (nullable): the station the job runs on, once it
 * was given or opened
 */
FstStation *
fst_job_get_station(FstJob *self)
{
	FstStation *station;
	g_return_val_if_fail(FST_IS_JOB(self), NULL);
	g_mutex_lock(&self->lock);
	station = self->station;
	g_mutex_unlock(&self->lock);
	return station;
}

/**
 * fst_job_set_batch:
 * @self: a batch job that has not run
 * @batch: (transfer full): the manifest; its rows get their status
 */
void
fst_job_set_batch(FstJob *self, FstBatch *batch)
{
	g_return_if_fail(FST_IS_JOB(self));
	g_return_if_fail(!self->started);
	g_clear_pointer(&self->batch, fst_batch_free);
	self->batch = batch;
}

/**
 * fst_job_get_batch:
 * @self: a batch job
 *
 * Returns: (transfer none) (nullable): the manifest, with each row's status
 * once the job has ended
 */
FstBatch *
fst_job_get_batch(FstJob *self)
{
	g_return_val_if_fail(FST_IS_JOB(self), NULL);
	return self->batch;
}

/**
 * fst_job_new:
 * @kind: what the job does
 * @options: how (copied)
 *
 * Returns: (transfer full): a job, to run with fst_job_run_async()
 */
FstJob *
fst_job_new(FstJobKind kind, const FstJobOptions *options)
{
	FstJob *self = g_object_new(FST_TYPE_JOB, NULL);
	self->kind = kind;
	self->workspace = g_strdup(options->workspace);
	self->profile = g_strdup(options->profile);
	self->lot = g_strdup(options->lot);
	self->operator_name = g_strdup(options->operator_name);
	self->devsim = g_strdup(options->devsim);
	self->dialect = g_strdup(options->dialect);
	if (options->ports != NULL) {
		GStrvBuilder *builder = g_strv_builder_new();
		for (guint i = 0; options->ports[i] != NULL; i++)
			g_strv_builder_add(builder, options->ports[i]);
		self->ports = g_strv_builder_end(builder);
		g_strv_builder_unref(builder);
	}
	self->baud_rate = options->baud_rate;
	self->count = options->count;
	self->poll_ms = options->poll_ms;
	self->n_devices = options->n_devices;
	return self;
}

static void
fst_job_finalize(GObject *object)
{
	FstJob *self = FST_JOB(object);

	fst_job_join(self);
	if (self->cancellable != NULL) {
		g_cancellable_disconnect(self->cancellable, self->cancelled_id);
		g_object_unref(self->cancellable);
	}
	fst_failure_groups_free(self->failures);
	g_clear_error(&self->halt_error);
	g_free(self->workspace);
	g_free(self->profile);
	g_clear_pointer(&self->run_profile, fst_profile_free);
	g_free(self->lot);
	g_free(self->operator_name);
	g_free(self->devsim);
	g_free(self->dialect);
	g_strfreev(self->ports);
	g_clear_pointer(&self->station, fst_station_unref);
	g_clear_pointer(&self->batch, fst_batch_free);
	g_clear_object(&self->interaction);
	g_object_unref(self->stop);
	g_object_unref(self->abort);
	if (self->context != NULL)
		g_main_context_unref(self->context);
	g_mutex_clear(&self->lock);
	G_OBJECT_CLASS(fst_job_parent_class)->finalize(object);
}

static void
fst_job_init(FstJob *self)
{
	g_mutex_init(&self->lock);
	self->failures = fst_failure_groups_new();
	self->stop = g_cancellable_new();
	self->abort = g_cancellable_new();
}

static void
fst_job_class_init(FstJobClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->finalize = fst_job_finalize;

	/**
	 * FstJob::progress:
	 * @self: the job
	 * @progress: (type FstProgress): a device's step
	 *
	 * A port's device reached a step; on the main context of the thread
	 * that started the job.
	 */
	signals[SIGNAL_PROGRESS] = g_signal_new("progress",
	                                        G_TYPE_FROM_CLASS(klass),
	                                        G_SIGNAL_RUN_LAST,
	                                        0,
	                                        NULL,
	                                        NULL,
	                                        NULL,
	                                        G_TYPE_NONE,
	                                        1,
	                                        FST_TYPE_PROGRESS | G_SIGNAL_TYPE_STATIC_SCOPE);
	/**
	 * FstJob::device-finished:
	 * @self: the job
	 * @result: (type FstProvisionResult): the device's result
	 *
	 * A device ended, done, failed or skipped; on the main context of the thread
	 * that started the job.
	 */
	signals[SIGNAL_DEVICE_FINISHED] =
	    g_signal_new("device-finished",
	                 G_TYPE_FROM_CLASS(klass),
	                 G_SIGNAL_RUN_LAST,
	                 0,
	                 NULL,
	                 NULL,
	                 NULL,
	                 G_TYPE_NONE,
	                 1,
	                 FST_TYPE_PROVISION_RESULT | G_SIGNAL_TYPE_STATIC_SCOPE);
	/**
	 * FstJob::warning:
	 * @self: the job
	 * @kind: what it is of: "ca-end" (the issuing CA nears its end, told at
	 *   the start of the run and again as the days pass during a long one:
	 *   looked at after each device and every minute, boards or none),
	 *   "registration" (AWS IoT registration could not start), "central"
	 *   (the central registry's sync could not start); a newer warning of a
	 *   kind replaces the one before
	 * @text: what the operator is to know, and what to do about it
	 *
	 * The station warns of something that is not a device's. The engine
	 * also logs it (g_warning()); on the main context of the thread that
	 * started the job.
	 */
	signals[SIGNAL_WARNING] = g_signal_new("warning",
	                                       G_TYPE_FROM_CLASS(klass),
	                                       G_SIGNAL_RUN_LAST,
	                                       0,
	                                       NULL,
	                                       NULL,
	                                       NULL,
	                                       G_TYPE_NONE,
	                                       2,
	                                       G_TYPE_STRING,
	                                       G_TYPE_STRING);
}

/**
 * fst_job_get_registration_queue:
 * @self: an #FstJob
 * @pending: (out) (optional): certificates waiting for AWS IoT registration,
 *   or being registered
 * @failed: (out) (optional): certificates whose registration failed
 * @error: (nullable): return location for a #GError
 *
 * Counts the workspace's AWS IoT registration queue, e.g. for a GUI that
 * shows how far registration is behind the line. Safe from any thread.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_job_get_registration_queue(FstJob *self, gint64 *pending, gint64 *failed, GError **error)
{
	g_autofree gchar *db_path = NULL;
	g_autoptr(FstDbQueue) queue = NULL;
	gint64 counts[4] = {0};

	g_return_val_if_fail(FST_IS_JOB(self), FALSE);
	db_path = g_build_filename(self->workspace, "station.db", NULL);
	queue = fst_db_queue_open(db_path, error);
	if (queue == NULL || !fst_db_queue_count(queue, "register", counts, error))
		return FALSE;
	if (pending != NULL)
		*pending = counts[0] + counts[1];
	if (failed != NULL)
		*failed = counts[3];
	return TRUE;
}
