/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

#include "fst-batch.h"
#include "fst-demo.h"
#include "fst-interaction.h"
#include "fst-pipeline.h"
#include "fst-station.h"

G_BEGIN_DECLS

/**
 * FstJobKind:
 * @FST_JOB_KIND_PROVISION: a gang over the given ports (the profile's job:
 *   provision, or trust-only for a profile with `job=trust-only`)
 * @FST_JOB_KIND_TRUST_ONLY: a gang that rewrites only the root CAs of
 *   provisioned devices, whatever the profile's job
 * @FST_JOB_KIND_BATCH: the rows of a manifest (fst_job_set_batch())
 * @FST_JOB_KIND_WATCH: each device as it is plugged in, until stopped
 * @FST_JOB_KIND_DEMO: simulated devices started for the run, then provisioned
 *   as @FST_JOB_KIND_PROVISION does
 */
typedef enum {
	FST_JOB_KIND_PROVISION,
	FST_JOB_KIND_TRUST_ONLY,
	FST_JOB_KIND_BATCH,
	FST_JOB_KIND_WATCH,
	FST_JOB_KIND_DEMO,
} FstJobKind;

/**
 * FstJobOptions:
 * @workspace: the workspace, opened by the job unless fst_job_set_station()
 *   gave an open station
 * @profile: (nullable): the profile name or file; for a batch, the profile of
 *   rows that name none
 * @lot: (nullable): the production lot; for a batch, the lot of rows that
 *   name none
 * @operator_name: (nullable): who runs the station (default: the login)
 * @ports: (nullable) (array zero-terminated=1): the gang's ports (`lane:NAME`:
 *   the port at that jig lane's place when the run starts); for a watch
 *   the port patterns (%NULL: serial ports of known USB ids); for a batch
 *   where to look for rows with a device and no port
 * @baud_rate: the line rate, 0 for 115200
 * @count: provision and trust-only: devices in all (each port takes the next
 *   board put on it), 0 for one per port
 * @poll_ms: watch: how often ports are scanned, 0 for the default
 * @n_devices: demo: how many simulated devices
 * @devsim: (nullable): demo: the simulator executable, found if %NULL
 * @dialect: (nullable): provision and trust-only: the dialect every port
 *   speaks; %NULL for the one known-devices.conf gives each port, else fsp
 */
typedef struct {
	const gchar *workspace;
	const gchar *profile;
	const gchar *lot;
	const gchar *operator_name;
	const gchar *const *ports;
	guint baud_rate;
	guint count;
	guint poll_ms;
	guint n_devices;
	const gchar *devsim;
	const gchar *dialect;
} FstJobOptions;

/**
 * FstJobSummary:
 * @provisioned: devices that ended done
 * @failed: devices that ended failed (refused ones included)
 * @skipped: devices met provisioned already and left alone (a watch, a
 *   manifest); neither provisioned nor failed
 * @elapsed_us: how long the run took
 * @stopped: fst_job_stop() was called (no new device was started after it)
 * @aborted: the devices in flight were aborted (fst_job_abort() or the
 *   cancellable of fst_job_run_async())
 * @halted: the line stopped itself after a device failed for a reason of the
 *   station's: the database could not record how it ended (a full disk, a
 *   lost file), or its certificate could not be issued (the issuing CA
 *   expired, its key is gone, AWS IoT refuses the station, the profile's
 *   fixed end passed: a configuration error at issue). No new device was
 *   started after it, the devices in flight ran to their end, and
 *   fst_job_run_finish() fails with fst_job_get_halt_error()
 */
typedef struct {
	guint provisioned;
	guint failed;
	guint skipped;
	gint64 elapsed_us;
	gboolean stopped;
	gboolean aborted;
	gboolean halted;
} FstJobSummary;

#define FST_TYPE_JOB (fst_job_get_type())
G_DECLARE_FINAL_TYPE(FstJob, fst_job, FST, JOB, GObject)

FstJob *fst_job_new(FstJobKind kind, const FstJobOptions *options);
void fst_job_set_station(FstJob *self, FstStation *station);
void fst_job_set_batch(FstJob *self, FstBatch *batch);
void fst_job_set_interaction(FstJob *self, FstInteraction *interaction);
FstJobKind fst_job_get_kind(FstJob *self);
FstBatch *fst_job_get_batch(FstJob *self);
FstStation *fst_job_get_station(FstJob *self);
const FstJobSummary *fst_job_get_summary(FstJob *self);
const GError *fst_job_get_halt_error(FstJob *self);
/* how the message of fst_job_get_halt_error() begins, for a display that
 * says the line stopped in its own words */
#define FST_JOB_HALT_PREFIX "the line stopped: "
GPtrArray *fst_job_list_failure_groups(FstJob *self);
gboolean
fst_job_get_registration_queue(FstJob *self, gint64 *pending, gint64 *failed, GError **error);
GCancellable *fst_job_get_stop(FstJob *self);
GCancellable *fst_job_get_abort(FstJob *self);
void fst_job_stop(FstJob *self);
void fst_job_abort(FstJob *self);
void fst_job_run_async(FstJob *self,
                       GCancellable *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer user_data);
gboolean fst_job_run_finish(FstJob *self, GAsyncResult *result, GError **error);

G_END_DECLS
