/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

#include "fst-device.h"
#include "fst-failure-groups.h"
#include "fst-profile.h"
#include "fst-station.h"

G_BEGIN_DECLS

/**
 * FstStep:
 *
 * The steps of provisioning one device, in order. Their names (see
 * fst_step_to_string()) are the `events.step` values in the database.
 */
typedef enum {
	FST_STEP_CONNECT,
	FST_STEP_IDENTIFY,
	FST_STEP_PLAN,
	FST_STEP_KEYGEN,
	FST_STEP_ISSUE,
	FST_STEP_BURN,
	FST_STEP_VERIFY,
	FST_STEP_DONE,
	FST_STEP_FAILED,
	FST_STEP_SKIPPED,
	FST_STEP_LAST
} FstStep;

const gchar *fst_step_to_string(FstStep step);
gboolean fst_step_is_final(FstStep step);

/**
 * FstProgress:
 * @port: the port name
 * @uid: (nullable): the device id once known
 * @step: the step now running (or %FST_STEP_DONE / %FST_STEP_FAILED /
 *   %FST_STEP_SKIPPED: see fst_step_is_final())
 * @fraction: overall progress of this device, 0.0 to 1.0
 * @detail: (nullable): a short human text, or the error message when failed
 *
 * Sent from the port's worker thread: a GUI must hop to its main context.
 */
typedef struct {
	const gchar *port;
	const gchar *uid;
	FstStep step;
	gdouble fraction;
	const gchar *detail;
} FstProgress;

typedef void (*FstProgressFunc)(const FstProgress *progress, gpointer user_data);

#define FST_TYPE_PROGRESS (fst_progress_get_type())
GType fst_progress_get_type(void);
FstProgress *fst_progress_copy(const FstProgress *progress);
void fst_progress_free(FstProgress *progress);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstProgress, fst_progress_free)

/**
 * FstResultStatus:
 * @FST_RESULT_PASSED: provisioned (or its roots rewritten) now
 * @FST_RESULT_FAILED: tried and failed, or refused (see the result's error)
 * @FST_RESULT_SKIPPED: provisioned already and not to be provisioned again
 *   (a watch or a manifest met it again): nothing was done to it
 *
 * How one device ended, as fst_provision_result_get_status() decides it; its
 * name (fst_result_status_to_string()) is what front ends print.
 */
typedef enum {
	FST_RESULT_PASSED,
	FST_RESULT_FAILED,
	FST_RESULT_SKIPPED,
} FstResultStatus;

const gchar *fst_result_status_to_string(FstResultStatus status);

/**
 * FstProvisionResult:
 *
 * What provisioning one device produced, for summaries and benchmarks. A
 * skipped device has @skipped set, no @error, and @serial_hex the
 * certificate it has in service.
 */
typedef struct {
	gchar *port;        /* (owned) */
	gchar *uid;         /* (owned) (nullable): NULL when the device never identified */
	gchar *model;       /* (owned) (nullable) */
	gchar *serial_hex;  /* (owned) (nullable): the certificate issued, if any */
	gchar *aws_cert_id; /* (owned) (nullable) */
	gchar *roots;       /* (owned) (nullable): names of the roots burned */
	gchar *lane;        /* (owned) (nullable): the jig lane of the port */
	GError *error;      /* (owned) (nullable): why it failed */
	GError *unrecorded; /* (owned) (nullable): why the database could not record
	                     * how the device ended (a full disk, a lost file): the
	                     * station cannot record, and a job stops its line */
	gboolean skipped;   /* provisioned already: nothing was done */
	FstStep step;       /* with @error: the step it failed at */
	gint64 elapsed_us;
	guint64 bytes_out;
	guint64 bytes_in;
} FstProvisionResult;

#define FST_TYPE_PROVISION_RESULT (fst_provision_result_get_type())
GType fst_provision_result_get_type(void);
FstProvisionResult *fst_provision_result_copy(const FstProvisionResult *self);
void fst_provision_result_free(FstProvisionResult *self);
FstResultStatus fst_provision_result_get_status(const FstProvisionResult *self);
void fst_provision_result_group_failure(const FstProvisionResult *self, FstFailureGroups *groups);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstProvisionResult, fst_provision_result_free)

FstProvisionResult *fst_pipeline_provision(FstStation *station,
                                           const FstProfile *profile,
                                           FstDevice *device,
                                           FstProgressFunc progress,
                                           gpointer user_data,
                                           GCancellable *cancellable);
FstProvisionResult *fst_pipeline_update_trust(FstStation *station,
                                              const FstProfile *profile,
                                              FstDevice *device,
                                              FstProgressFunc progress,
                                              gpointer user_data,
                                              GCancellable *cancellable);

G_END_DECLS
