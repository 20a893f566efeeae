/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Provisioning one device: the order of the steps is the station's promise.
 *
 *   connect   open the port
 *   identify  ask the device who it is and what it can do; a board giving
 *             the id of one being provisioned on another port at that moment
 *             (a copied serial number) is refused, and nothing is recorded
 *             for it but that event
 *   plan      check it against the profile, recognise a device that comes
 *             back (a certificate in service in the database: refused, or
 *             re-provisioned, as the profile's on-return says), choose the
 *             credential slot, the key type, the CA chain and the root
 *             subset, and check that they fit the device before anything is
 *             issued
 *   keygen    the device makes its key and returns a CSR (the private key
 *             never leaves the device); with key-source=device-public-key it
 *             returns the bare public key and signs a challenge with the new
 *             key, checked before anything is issued; with
 *             key-source=station-generated
 *             the station makes the key instead (fst_ca_issue_with_station_key)
 *             and, once the certificate is recorded (with the key's CMS
 *             escrow when the profile names an escrow certificate), injects
 *             it first thing in the burn step (PUT_KEY) and wipes its copy
 *   issue     verify the CSR (a key the central registry knows for another
 *             device is refused first), sign the certificate, and COMMIT IT
 *             TO THE DATABASE before a single byte of it goes to the device
 *   burn      write the certificate, the CA chain and the roots
 *   verify    read everything back and compare byte for byte, then the
 *             proof of possession: the device signs a fresh random nonce
 *             and the signature must verify with the public key of the
 *             certificate just issued; with A/B slots, then ACTIVATE
 *   done      one transaction marks the certificate verified and the device
 *             provisioned, and supersedes the certificate it replaces
 *
 * A device that comes back is re-provisioned in place (credential-slots=
 * single) or into the slot it is not using (ab: key, certificate and chain
 * in slot 1 - active, read back, proven on that slot, then ACTIVATE), so that
 * with A/B a failure at any step leaves it on its old, working slot. The old
 * certificate is superseded and queued for deactivation by the final commit
 * once it is gone from the device: with A/B after ACTIVATE (a failure before
 * it revokes the new certificate and leaves the old one in service), in a
 * single slot as soon as the device committed the new device certificate
 * over it (a later failure revokes the new one, and the old one, overwritten,
 * is superseded all the same). A trust-only job (fst_pipeline_
 * update_trust()) identifies a provisioned device, writes and reads back the
 * root CAs only, and records them in one commit.
 *
 * Every step is an event row. The records of a device are gathered in an
 * FstDbDeviceLog and written in two durable (synchronous=FULL) transactions,
 * the fewest the write-ahead rule allows: after issue, the device row, the
 * events so far, the certificate and the objects about to be burned, before
 * the first byte goes to the device; at the end, the remaining events and the
 * final states (or, on failure, the burned state if it was, the revocation
 * and the failed step). A failure at any step marks the device failed
 * with the error. A certificate that was issued stays in the database, and
 * once a device has failed after its certificate was issued (a burn cut
 * short, a read-back that differs, a failed proof) that certificate is marked
 * revoked: nothing that reached a device is ever unknown, and nothing a failed
 * device holds is trusted. Provisioning the device again (same uid, same
 * device row) makes a new key and certificate and completes it.
 */

#define G_LOG_DOMAIN "FstPipeline"

#include "fst-pipeline.h"

#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "fst-aws-issuer.h"
#include "fst-central-station.h"
#include "fst-csr.h"
#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-x509.h"

/* the size of the proof-of-possession nonce */
#define FST_PIPELINE_NONCE_SIZE 32
typedef struct {
	FstStation *station;       /* (unowned) */
	const FstProfile *profile; /* (unowned) */
	FstDevice *device;         /* (unowned) */
	FstProgressFunc progress;
	gpointer user_data;
	GCancellable *cancellable;
	FstProvisionResult *result; /* (unowned) */
	FstDbDeviceLog *log;        /* (owned) (nullable): from identification on */
	gchar *serial_hex;          /* (owned) (nullable): the certificate, once logged */
	gboolean burned;            /* every object was written */
	gboolean trust_only;        /* rewrite the roots of a provisioned device, nothing else */
	FstDbCert *active;          /* (owned) (nullable): the certificate in service of a
	                             * device that came back */
	guint slot;                 /* the credential slot the new credentials go to */
	gboolean alternate;         /* A/B: @slot is not the active one; ACTIVATE once proven */
	gboolean superseded;        /* the supersede of @active is logged */
	gboolean refused;           /* refused before anything was logged: one event, nothing
	                             * else changes */
	gboolean central_reserved;  /* the device id is reserved in the central registry */
	gboolean claimed;           /* the device id is claimed in this station
	                             * (fst_station_claim_device()) */
	gchar *aws_arn;             /* (owned) (nullable): the ARN of a certificate AWS
	                             * IoT issued */
	FstStep step;
	gint64 step_started_us;
} FstRun;

/* the objects to burn, planned before anything is issued */
typedef struct {
	FstKeyType key_type;
	GPtrArray *chain_ders; /* (element-type GBytes) */
	GPtrArray *roots;      /* (element-type FstTrustRoot) (unowned elements) */
	GBytes *chain;         /* (nullable): encoded CA chain object */
	GBytes *roots_blob;    /* (nullable): encoded trust roots object */
	gchar *roots_reason;   /* (nullable): why these roots and not the others */
	gchar *escrow_sha256;  /* (nullable): SHA-256 of the escrow certificate's DER */
} FstPlan;

static void
fst_plan_clear(FstPlan *plan)
{
	g_clear_pointer(&plan->chain_ders, g_ptr_array_unref);
	g_clear_pointer(&plan->roots, g_ptr_array_unref);
	g_clear_pointer(&plan->chain, g_bytes_unref);
	g_clear_pointer(&plan->roots_blob, g_bytes_unref);
	g_clear_pointer(&plan->roots_reason, g_free);
	g_clear_pointer(&plan->escrow_sha256, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FstPlan, fst_plan_clear)

/**
 * fst_step_to_string:
 * @step: an #FstStep
 *
 * Returns: (transfer none): the step name stored in `events.step`
 */
const gchar *
fst_step_to_string(FstStep step)
{
	switch (step) {
	case FST_STEP_CONNECT:
		return "connect";
	case FST_STEP_IDENTIFY:
		return "identify";
	case FST_STEP_PLAN:
		return "plan";
	case FST_STEP_KEYGEN:
		return "keygen";
	case FST_STEP_ISSUE:
		return "issue";
	case FST_STEP_BURN:
		return "burn";
	case FST_STEP_VERIFY:
		return "verify";
	case FST_STEP_DONE:
		return "done";
	case FST_STEP_FAILED:
		return "failed";
	case FST_STEP_SKIPPED:
		return "skipped";
	case FST_STEP_LAST:
	default:
		break;
	}
	return "unknown";
}

/* a progress report that owns its strings: FstProgress borrows them */
typedef struct {
	FstProgress progress; /* first: fst_progress_free() casts back */
	gchar *port;          /* (owned) */
	gchar *uid;           /* (owned) (nullable) */
	gchar *detail;        /* (owned) (nullable) */
} FstProgressCopy;

/**
 * fst_progress_copy:
 * @progress: a progress report
 *
 * Returns: (transfer full): a deep copy, for handing to another thread; free
 * it with fst_progress_free()
 */
FstProgress *
fst_progress_copy(const FstProgress *progress)
{
	FstProgressCopy *copy = g_new0(FstProgressCopy, 1);
	copy->port = g_strdup(progress->port);
	copy->uid = g_strdup(progress->uid);
	copy->detail = g_strdup(progress->detail);
	copy->progress = *progress;
	copy->progress.port = copy->port;
	copy->progress.uid = copy->uid;
	copy->progress.detail = copy->detail;
	return &copy->progress;
}

/**
 * fst_progress_free:
 * @progress: (nullable): a copy made by fst_progress_copy()
 */
void
fst_progress_free(FstProgress *progress)
{
	FstProgressCopy *copy = (FstProgressCopy *)progress;
	if (copy == NULL)
		return;
	g_free(copy->port);
	g_free(copy->uid);
	g_free(copy->detail);
	g_free(copy);
}

G_DEFINE_BOXED_TYPE(FstProgress, fst_progress, fst_progress_copy, fst_progress_free)

/**
 * fst_provision_result_copy:
 * @self: a result
 *
 * Returns: (transfer full): a deep copy
 */
FstProvisionResult *
fst_provision_result_copy(const FstProvisionResult *self)
{
	FstProvisionResult *copy = g_new0(FstProvisionResult, 1);
	*copy = *self;
	copy->port = g_strdup(self->port);
	copy->uid = g_strdup(self->uid);
	copy->model = g_strdup(self->model);
	copy->serial_hex = g_strdup(self->serial_hex);
	copy->aws_cert_id = g_strdup(self->aws_cert_id);
	copy->roots = g_strdup(self->roots);
	copy->lane = g_strdup(self->lane);
	copy->error = self->error != NULL ? g_error_copy(self->error) : NULL;
	copy->unrecorded = self->unrecorded != NULL ? g_error_copy(self->unrecorded) : NULL;
	return copy;
}

/**
 * fst_step_is_final:
 * @step: an #FstStep
 *
 * Returns: %TRUE for the steps a device ends on: done, failed, skipped
 */
gboolean
fst_step_is_final(FstStep step)
{
	return step == FST_STEP_DONE || step == FST_STEP_FAILED || step == FST_STEP_SKIPPED;
}

/**
 * fst_result_status_to_string:
 * @status: an #FstResultStatus
 *
 * Returns: (transfer none): `ok`, `failed` or `skipped`, the `result` of the
 * CLI's JSON result events
 */
const gchar *
fst_result_status_to_string(FstResultStatus status)
{
	switch (status) {
	case FST_RESULT_PASSED:
		return "ok";
	case FST_RESULT_FAILED:
		return "failed";
	case FST_RESULT_SKIPPED:
		return "skipped";
	default:
		break;
	}
	return "unknown";
}

/**
 * fst_provision_result_group_failure:
 * @self: a result
 * @groups: the groups to count it in
 *
 * Counts a failed device in its class (its error code at the step it failed
 * at, fst_failure_groups_add_error()); passed and skipped devices are not
 * failures and are not counted.
 */
void
fst_provision_result_group_failure(const FstProvisionResult *self, FstFailureGroups *groups)
{
	if (self->error == NULL)
		return;
	fst_failure_groups_add_error(
	    groups, self->error, fst_step_to_string(self->step), self->uid);
}

/**
 * fst_provision_result_get_status:
 * @self: a result
 *
 * The one place that says how a device ended: failed when it has an error,
 * skipped when it was provisioned already and left alone, else passed.
 *
 * Returns: the result's status
 */
FstResultStatus
fst_provision_result_get_status(const FstProvisionResult *self)
{
	if (self->error != NULL)
		return FST_RESULT_FAILED;
	if (self->skipped)
		return FST_RESULT_SKIPPED;
	return FST_RESULT_PASSED;
}

G_DEFINE_BOXED_TYPE(FstProvisionResult,
                    fst_provision_result,
                    fst_provision_result_copy,
                    fst_provision_result_free)

void
fst_provision_result_free(FstProvisionResult *self)
{
	if (self == NULL)
		return;
	g_free(self->port);
	g_free(self->uid);
	g_free(self->model);
	g_free(self->serial_hex);
	g_free(self->aws_cert_id);
	g_free(self->roots);
	g_free(self->lane);
	g_clear_error(&self->error);
	g_clear_error(&self->unrecorded);
	g_free(self);
}

static void
fst_run_report(FstRun *run, FstStep step, gdouble fraction, const gchar *detail)
{
	FstProgress progress = {
	    .port = run->result->port,
	    .uid = run->result->uid,
	    .step = step,
	    .fraction = fraction,
	    .detail = detail,
	};
	if (run->progress != NULL)
		run->progress(&progress, run->user_data);
}

static void
fst_run_step(FstRun *run, FstStep step, gdouble fraction, const gchar *detail)
{
	run->step = step;
	run->step_started_us = g_get_real_time();
	fst_run_report(run, step, fraction, detail);
}

/* logs the step that just ended as an event, written with the next commit;
 * a failed commit is fatal for the device, because an unrecorded step is not
 * a step the station can stand behind */
static void
fst_run_step_done(FstRun *run, const gchar *detail)
{
	fst_db_device_log_add_event(run->log,
	                            fst_step_to_string(run->step),
	                            run->step_started_us,
	                            g_get_real_time(),
	                            "ok",
	                            detail);
}

/* the history of a device that came back, for the operator: its
 * certificates, newest first (at most a few), each with its state, date and
 * lot, and the station that last worked on it */
static gchar *
fst_run_history(FstRun *run, const gchar *uid)
{
	FstDb *db = fst_station_get_db(run->station);
	FstDbCertFilter filter = {.device_uid = uid};
	g_autoptr(GPtrArray) certs = fst_db_list_certificates(db, &filter, NULL);
	g_autoptr(FstDbDevice) dev = fst_db_find_device(db, uid, NULL);
	g_autoptr(GString) str = g_string_new(NULL);
	guint shown = 0;

	for (guint i = certs != NULL ? certs->len : 0; i > 0 && shown < 4; i--, shown++) {
		FstDbCert *c = g_ptr_array_index(certs, i - 1);
		g_autoptr(GDateTime) dt =
		    g_date_time_new_from_unix_utc(c->created_at / G_USEC_PER_SEC);
		g_autofree gchar *when =
		    dt != NULL ? g_date_time_format(dt, "%Y-%m-%d %H:%M") : NULL;
		g_string_append_printf(str,
		                       "%scertificate %s %s %s UTC, slot %c, lot %s",
		                       str->len > 0 ? "; " : "",
		                       c->serial_hex,
		                       fst_cert_state_to_string(c->state),
		                       when != NULL ? when : "?",
		                       c->slot == 1 ? 'B' : 'A',
		                       c->lot != NULL ? c->lot : "-");
	}
	if (certs != NULL && certs->len > shown)
		g_string_append_printf(str, "; %u older", certs->len - shown);
	if (dev != NULL && dev->station_id != 0)
		g_string_append_printf(
		    str,
		    "; last worked on by station #%" G_GINT64_FORMAT "%s",
		    dev->station_id,
		    dev->station_id == fst_station_get_id(run->station) ? " (this one)" : "");
	return g_string_free(g_steal_pointer(&str), FALSE);
}

/* one key, one device at the other stations too: the key the device sent
 * (@spki, or the one in @csr) looked up in the central registry before it
 * is certified; a CSR that does not parse is refused by the issue itself */
static gboolean
fst_run_check_key_central(FstRun *run, GBytes *csr, GBytes *spki, GError **error)
{
	const FstDeviceInfo *info = fst_device_get_info(run->device);
	FstCsr parsed = {0};
	gsize len = 0;
	const guint8 *data;

	if (spki != NULL) {
		data = g_bytes_get_data(spki, &len);
		return fst_central_station_check_key(run->station, info->uid, data, len, error);
	}
	if (csr == NULL)
		return TRUE;
	data = g_bytes_get_data(csr, &len);
	if (!fst_csr_parse(data, len, &parsed))
		return TRUE;
	return fst_central_station_check_key(
	    run->station, info->uid, parsed.spki_whole.p, parsed.spki_whole.len, error);
}

/* the central registry's part (station/fst-central-station.c): the device
 * id is reserved there before anything is issued for it, and then, holding
 * it, a device another station provisioned is a returning device too (in
 * that order: the station that provisioned it ships its certificate before
 * its reservation ends). Re-provisioned here, it gets its new credentials
 * in the slot the profile says, as one of this station's would */
static gboolean
fst_run_reserve_central(FstRun *run, GError **error)
{
	const FstDeviceInfo *info = fst_device_get_info(run->device);
	gint foreign_slot = -1;

	if (!fst_central_station_reserve(run->station, run->profile, info->uid, error))
		return FALSE;
	run->central_reserved = TRUE;
	if (run->active != NULL || run->trust_only)
		return TRUE;
	if (!fst_central_station_recognise(
	        run->station, run->profile, info->uid, &run->refused, &foreign_slot, error))
		return FALSE;
	if (foreign_slot < 0 ||
	    fst_profile_get_credential_slots(run->profile) != FST_PROFILE_SLOTS_AB)
		return TRUE;
	if (info->cred_slots < 2) {
		run->refused = TRUE;
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "device %s came back from another station and has one credential slot, "
		            "and profile %s writes the new credentials beside the old ones "
		            "(credential-slots=ab); nothing was issued. Use a profile with "
		            "credential-slots=single to replace them in place",
		            info->uid,
		            fst_profile_get_name(run->profile));
		return FALSE;
	}
	run->slot = 1 - info->active_slot;
	run->alternate = TRUE;
	return TRUE;
}

/* recognises a device that comes back (it has a certificate in service) and
 * applies the profile: refuse it with its history, or re-provision it (into
 * its alternate slot with credential-slots=ab); a trust-only job needs one.
 * A refusal is decided before anything is logged, so that the device's
 * records stay as they are but for one event */
static gboolean
fst_run_recognise(FstRun *run, GError **error)
{
	const FstDeviceInfo *info = fst_device_get_info(run->device);
	const gchar *name = fst_profile_get_name(run->profile);
	g_autoptr(GError) error_local = NULL;

	run->active = fst_db_get_active_certificate(
	    fst_station_get_db(run->station), info->uid, &error_local);
	if (run->active == NULL && error_local != NULL) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	run->slot = info->active_slot;
	if (run->trust_only) {
		if (run->active == NULL) {
			run->refused = TRUE;
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_NOT_FOUND,
			            "device %s has no certificate in service in this station's "
			            "database: a trust-only job updates the roots of provisioned "
			            "devices only; provision it first (fleetstation show %s)",
			            info->uid,
			            info->uid);
			return FALSE;
		}
		return TRUE;
	}
	if (run->active == NULL)
		return TRUE;
	if (fst_profile_get_on_return(run->profile) == FST_PROFILE_ON_RETURN_REFUSE) {
		g_autofree gchar *history = fst_run_history(run, info->uid);
		run->refused = TRUE;
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "device %s came back: it is provisioned already (%s), and profile %s "
		            "refuses devices that come back (on-return=refuse); nothing was "
		            "issued. See fleetstation show %s, or use a profile with "
		            "on-return=reprovision to give it a new certificate",
		            info->uid,
		            history,
		            name,
		            info->uid);
		return FALSE;
	}
	if (fst_profile_get_credential_slots(run->profile) == FST_PROFILE_SLOTS_AB) {
		/* one slot cannot keep the old credentials while the new ones are
		 * proven: refused, rather than rotated in place behind the
		 * operator's back */
		if (info->cred_slots < 2) {
			run->refused = TRUE;
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_NOT_SUPPORTED,
			            "device %s came back and has one credential slot, and profile "
			            "%s writes the new credentials beside the old ones "
			            "(credential-slots=ab); nothing was issued. Use a profile with "
			            "credential-slots=single to replace them in place",
			            info->uid,
			            name);
			return FALSE;
		}
		run->slot = 1 - info->active_slot;
		run->alternate = TRUE;
	}
	return TRUE;
}

/* how certificates are written: the profile's [burn] format, else as the
 * device asked in its identification */
static FstCredFormat
fst_run_format(FstRun *run)
{
	switch (fst_profile_get_format(run->profile)) {
	case FST_PROFILE_FORMAT_PEM:
		return FST_CRED_FORMAT_PEM;
	case FST_PROFILE_FORMAT_DER:
		return FST_CRED_FORMAT_DER;
	case FST_PROFILE_FORMAT_DEVICE:
	default:
		return fst_device_get_info(run->device)->format;
	}
}

/* the root subset for the device, from the profile's trust options and the
 * device's validation capabilities and storage, in the format it is burned
 * in; none when the profile's [burn] objects leave the roots out */
static gboolean
fst_run_plan_roots(FstRun *run, FstPlan *plan, GError **error)
{
	const FstDeviceInfo *info = fst_device_get_info(run->device);
	guint32 cap_roots = info->capacity[FST_OBJECT_TRUST_ROOTS];
	FstCredFormat format = fst_run_format(run);
	g_autoptr(FstTrustSelection) sel = NULL;

	if (cap_roots == 0 || !fst_profile_get_burn_object(run->profile, FST_OBJECT_TRUST_ROOTS))
		return TRUE;
	sel = fst_trust_select_explain(fst_station_get_trust(run->station),
	                               fst_profile_get_trust_options(run->profile),
	                               info->validation,
	                               format,
	                               cap_roots,
	                               error);
	if (sel == NULL) {
		g_prefix_error(error, "choosing root CAs for device %s: ", info->uid);
		return FALSE;
	}
	plan->roots = g_steal_pointer(&sel->roots);
	plan->roots_reason = g_steal_pointer(&sel->reason);
	plan->roots_blob = fst_trust_roots_encode(plan->roots, format);
	if (g_bytes_get_size(plan->roots_blob) > cap_roots) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_STORAGE_FULL,
		            "the root CAs need %" G_GSIZE_FORMAT
		            " bytes and device %s has %u for them",
		            g_bytes_get_size(plan->roots_blob),
		            info->uid,
		            cap_roots);
		return FALSE;
	}
	return TRUE;
}

static gboolean
fst_run_aws_issued(FstRun *run)
{
	return fst_profile_get_issuer(run->profile) == FST_PROFILE_ISSUER_AWS;
}

/* AWS IoT issues the certificate: for the device's CSR, or with a key pair
 * AWS makes (@device_key); the issue event names the certificate's ARN */
static FstIssuedCert *
fst_run_issue_aws(FstRun *run,
                  FstAwsIot *aws,
                  GBytes *csr,
                  FstSecret **device_key,
                  gchar **detail,
                  GError **error)
{
	const FstDeviceInfo *info = fst_device_get_info(run->device);
	g_autofree gchar *arn = NULL;
	g_autofree gchar *lost = NULL;
	FstIssuedCert *issued;

	if (csr != NULL)
		issued = fst_aws_issuer_issue_from_csr(aws,
		                                       run->profile,
		                                       info,
		                                       csr,
		                                       fst_station_get_db(run->station),
		                                       &arn,
		                                       &lost,
		                                       run->cancellable,
		                                       error);
	else
		issued = fst_aws_issuer_issue_with_key(
		    aws, run->profile, info, device_key, &arn, &lost, run->cancellable, error);
	if (issued == NULL)
		return NULL;
	*detail =
	    g_strdup_printf("issued by AWS IoT in %s (%s) as %s%s%s",
	                    fst_aws_iot_get_region(aws),
	                    csr != NULL ? "CreateCertificateFromCsr" : "CreateKeysAndCertificate",
	                    arn,
	                    lost != NULL ? "; " : "",
	                    lost != NULL ? lost : "");
	run->aws_arn = g_steal_pointer(&arn);
	return issued;
}

/*
 * A certificate AWS IoT issued for this try (INACTIVE) that the first commit
 * did not record: the device failed before it was on disk (the database
 * refused it, a board holding the same key came first, the certificate does
 * not fit). It is deleted at AWS, so that AWS holds no certificate the
 * station does not know; @error, the device's failure, says what became of
 * it. The deletion is not cancelled with the run: it is what a stop leaves
 * clean.
 */
static void
fst_run_withdraw_aws(FstAwsIot *aws, const FstIssuedCert *issued, GError **error)
{
	g_autoptr(GError) error_delete = NULL;
	gchar *message;

	if (aws == NULL || issued == NULL || issued->aws_cert_id == NULL || error == NULL ||
	    *error == NULL)
		return;
	if (fst_aws_iot_delete_certificate(aws, issued->aws_cert_id, NULL, &error_delete))
		message = g_strdup_printf("%s; certificate %s, which AWS IoT made INACTIVE for "
		                          "this try, was deleted there",
		                          (*error)->message,
		                          issued->aws_cert_id);
	else
		message = g_strdup_printf(
		    "%s; AWS IoT holds certificate %s, INACTIVE, which nothing records, and "
		    "deleting it failed (%s): delete it with `aws iot delete-certificate "
		    "--certificate-id %s`",
		    (*error)->message,
		    issued->aws_cert_id,
		    error_delete->message,
		    issued->aws_cert_id);
	g_free((*error)->message);
	(*error)->message = message;
}

/* a certificate AWS issued, INACTIVE until now, made ACTIVE once the first
 * commit has recorded it (fst_aws_issuer_activate()); the step goes into the
 * device's final commit */
static gboolean
fst_run_activate_aws(FstRun *run, FstAwsIot *aws, const FstIssuedCert *issued, GError **error)
{
	gint64 started = g_get_real_time();
	gboolean activated = FALSE;
	g_autofree gchar *detail = NULL;

	if (!fst_aws_issuer_activate(
	        aws, run->profile, issued->aws_cert_id, &activated, run->cancellable, error)) {
		g_prefix_error(error,
		               "activating certificate %s at AWS IoT, which issued it INACTIVE: ",
		               issued->serial_hex);
		return FALSE;
	}
	if (!activated)
		return TRUE;
	detail = g_strdup_printf("certificate %s ACTIVE at AWS IoT as %s, after it was recorded",
	                         issued->serial_hex,
	                         run->aws_arn);
	fst_db_device_log_add_event(
	    run->log, "aws-activate-certificate", started, g_get_real_time(), "ok", detail);
	return TRUE;
}

static gboolean
fst_run_plan(FstRun *run, FstPlan *plan, GError **error)
{
	const FstDeviceInfo *info = fst_device_get_info(run->device);
	FstCa *ca = fst_station_get_ca(run->station);
	guint32 cap_chain = info->capacity[FST_OBJECT_CA_CHAIN];
	const gchar *escrow_sha256 = NULL;

	if (!fst_profile_check_device(run->profile, info, error))
		return FALSE;
	if (!fst_run_recognise(run, error))
		return FALSE;
	if (info->capacity[FST_OBJECT_DEVICE_CERT] == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "device %s has no certificate slot",
		            info->uid);
		return FALSE;
	}
	if (fst_profile_get_key_source(run->profile) == FST_KEY_SOURCE_STATION_GENERATED) {
		if (!info->can_put_key) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_NOT_SUPPORTED,
			            "profile %s injects a station-made key, and device %s cannot "
			            "take one; choose a profile with key generation on the device",
			            fst_profile_get_name(run->profile),
			            info->uid);
			return FALSE;
		}
		if (fst_profile_get_escrow_cert_der(run->profile, &escrow_sha256) != NULL)
			plan->escrow_sha256 = g_strdup(escrow_sha256);
	}
	plan->key_type = fst_profile_choose_key_type(run->profile, info, error);
	if (plan->key_type == FST_KEY_TYPE_NONE)
		return FALSE;

	/* the CA chain, unless the profile's [burn] objects leave it out; a
	 * certificate AWS IoT issues has Amazon's chain, which AWS IoT's
	 * endpoint knows: nothing of the station's CA goes to the device */
	plan->chain_ders = fst_run_aws_issued(run)
	                       ? g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref)
	                       : fst_ca_get_chain_der(ca);
	if (cap_chain > 0 && plan->chain_ders->len > 0 &&
	    fst_profile_get_burn_object(run->profile, FST_OBJECT_CA_CHAIN)) {
		plan->chain = fst_x509_bundle_encode(plan->chain_ders, fst_run_format(run));
		if (g_bytes_get_size(plan->chain) > cap_chain) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_STORAGE_FULL,
			            "the CA chain needs %" G_GSIZE_FORMAT
			            " bytes and device %s has %u for it",
			            g_bytes_get_size(plan->chain),
			            info->uid,
			            cap_chain);
			return FALSE;
		}
	}

	return fst_run_plan_roots(run, plan, error);
}

static gchar *
fst_run_roots_description(const FstPlan *plan, gboolean with_hashes)
{
	g_autoptr(GString) str = g_string_new(NULL);
	for (guint i = 0; plan->roots != NULL && i < plan->roots->len; i++) {
		const FstTrustRoot *root = g_ptr_array_index(plan->roots, i);
		if (str->len > 0)
			g_string_append_c(str, ',');
		g_string_append(str, with_hashes ? root->sha256 : root->name);
	}
	return g_string_free(g_steal_pointer(&str), FALSE);
}

/* the credential slot of an object: the roots are shared by every slot */
static guint
fst_run_object_slot(FstRun *run, FstObjectKind kind)
{
	return kind == FST_OBJECT_TRUST_ROOTS ? 0 : run->slot;
}

/* writes one object, recorded by the commit before the burn: the database
 * learns of it before the device is asked, so a power cut in between leaves
 * a row, not a mystery */
static gboolean
fst_run_burn(FstRun *run, FstObjectKind kind, GBytes *blob, GError **error)
{
	if (!fst_device_write_object(
	        run->device, fst_run_object_slot(run, kind), kind, blob, run->cancellable, error)) {
		g_prefix_error(error, "writing %s: ", fst_object_kind_to_string(kind));
		return FALSE;
	}
	return TRUE;
}

static gboolean
fst_run_read_back(FstRun *run, FstObjectKind kind, GBytes *expected, GError **error)
{
	const FstDeviceInfo *info = fst_device_get_info(run->device);
	g_autoptr(GBytes) got = fst_device_read_object(
	    run->device, fst_run_object_slot(run, kind), kind, run->cancellable, error);
	if (got == NULL) {
		g_prefix_error(error, "reading back %s: ", fst_object_kind_to_string(kind));
		return FALSE;
	}
	if (!g_bytes_equal(got, expected)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "device %s stored %s wrongly: wrote %" G_GSIZE_FORMAT
		            " bytes, read back %" G_GSIZE_FORMAT
		            " bytes that differ; the device storage may be faulty",
		            info->uid,
		            fst_object_kind_to_string(kind),
		            g_bytes_get_size(expected),
		            g_bytes_get_size(got));
		return FALSE;
	}
	return TRUE;
}

/* whether this run verifies by the device's digest: the profile's choice,
 * else whenever the device has one; a profile that asks for a digest from a
 * device without one is refused before anything is burned */
static gboolean
fst_run_verify_by_digest(FstRun *run, gboolean *digest, GError **error)
{
	const FstDeviceInfo *info = fst_device_get_info(run->device);

	switch (fst_profile_get_verify(run->profile)) {
	case FST_PROFILE_VERIFY_READBACK:
		*digest = FALSE;
		return TRUE;
	case FST_PROFILE_VERIFY_DIGEST:
		if (!info->can_digest) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_NOT_SUPPORTED,
			            "device %s cannot hash what it stores, and profile %s asks for "
			            "verify=digest; update its firmware, or set verify=readback",
			            info->uid,
			            fst_profile_get_name(run->profile));
			return FALSE;
		}
		*digest = TRUE;
		return TRUE;
	case FST_PROFILE_VERIFY_AUTO:
	default:
		*digest = info->can_digest;
		return TRUE;
	}
}

/* the device re-reads the object from its storage and reports its SHA-256:
 * it must be the hash of what was written, so the object crosses the wire
 * once */
static gboolean
fst_run_check_digest(FstRun *run, FstObjectKind kind, GBytes *expected, GError **error)
{
	const FstDeviceInfo *info = fst_device_get_info(run->device);
	guint8 want[SHA256_DIGEST_LENGTH];
	guint32 length = 0;
	g_autoptr(GBytes) got = fst_device_digest_object(
	    run->device, fst_run_object_slot(run, kind), kind, &length, run->cancellable, error);

	if (got == NULL) {
		g_prefix_error(error, "verifying %s by digest: ", fst_object_kind_to_string(kind));
		return FALSE;
	}
	SHA256(g_bytes_get_data(expected, NULL), g_bytes_get_size(expected), want);
	if (g_bytes_get_size(got) != sizeof(want) ||
	    memcmp(g_bytes_get_data(got, NULL), want, sizeof(want)) != 0 ||
	    (length != FST_DEVICE_LENGTH_UNKNOWN && length != g_bytes_get_size(expected))) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "%s: device %s stored %s wrongly: wrote %" G_GSIZE_FORMAT
		            " bytes, the device holds something whose SHA-256 differs (%u bytes); "
		            "the device storage may be faulty",
		            fst_transport_get_name(fst_device_get_transport(run->device)),
		            info->uid,
		            fst_object_kind_to_string(kind),
		            g_bytes_get_size(expected),
		            length);
		return FALSE;
	}
	return TRUE;
}

static gboolean
fst_run_verify_object(
    FstRun *run, gboolean digest, FstObjectKind kind, GBytes *expected, GError **error)
{
	if (digest)
		return fst_run_check_digest(run, kind, expected, error);
	return fst_run_read_back(run, kind, expected, error);
}

/* proof of possession: the device signs a fresh nonce with the key in its
 * key slot, and the signature must verify with the public key of the
 * certificate issued to it; a device that only copied a CSR, or whose key
 * was replaced since, fails here */
static gboolean
fst_run_prove_spki(FstRun *run, GBytes *spki, const gchar *what, GError **error)
{
	const FstDeviceInfo *info = fst_device_get_info(run->device);
	guint8 nonce_buf[FST_PIPELINE_NONCE_SIZE];
	g_autoptr(GBytes) nonce = NULL;
	g_autoptr(GBytes) message = NULL;
	g_autoptr(GBytes) sig = NULL;
	const guint8 *msg;
	gsize msg_len = 0;

	if (RAND_bytes(nonce_buf, sizeof(nonce_buf)) != 1) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot draw a random challenge");
		return FALSE;
	}
	nonce = g_bytes_new(nonce_buf, sizeof(nonce_buf));
	sig = fst_device_sign_challenge(
	    run->device, run->slot, nonce, &message, run->cancellable, error);
	if (sig == NULL) {
		g_prefix_error(error, "proof of possession: ");
		return FALSE;
	}

	/* the device signed its dialect's prefix and then exactly our nonce */
	msg = g_bytes_get_data(message, &msg_len);
	if (msg_len < sizeof(nonce_buf) ||
	    memcmp(msg + msg_len - sizeof(nonce_buf), nonce_buf, sizeof(nonce_buf)) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "proof of possession: the signed message does not end with the "
		            "challenge");
		return FALSE;
	}

	if (!fst_ca_verify_challenge(spki, message, sig, error)) {
		g_prefix_error(
		    error, "device %s failed the proof of possession for %s: ", info->uid, what);
		return FALSE;
	}
	return TRUE;
}

/* the same, against the public key of the certificate just issued */
static gboolean
fst_run_prove(FstRun *run, GBytes *cert_der, GError **error)
{
	g_autoptr(GBytes) spki = NULL;
	g_autoptr(X509) cert = NULL;
	const guint8 *der;
	gsize der_len = 0;

	der = g_bytes_get_data(cert_der, &der_len);
	cert = d2i_X509(NULL, &der, (long)der_len);
	if (cert == NULL || (spki = fst_x509_get_spki(cert)) == NULL) {
		fst_error_set_openssl(error,
		                      FST_ERROR_INTERNAL,
		                      "proof of possession: cannot read the issued certificate");
		return FALSE;
	}
	return fst_run_prove_spki(run, spki, "the certificate issued to it", error);
}

/* a trust-only job, once the device is identified: the roots of a device
 * that is provisioned, written and read back, recorded in one final commit;
 * no key, certificate or CA chain is touched */
static gboolean
fst_run_trust(FstRun *run, GError **error)
{
	const FstDeviceInfo *info = fst_device_get_info(run->device);
	g_auto(FstPlan) plan = {0};
	g_autofree gchar *names = NULL;
	g_autofree gchar *hashes = NULL;
	g_autofree gchar *detail = NULL;
	gboolean digest = FALSE;

	/* plan */
	fst_run_step(run, FST_STEP_PLAN, 0.1, NULL);
	if (!fst_profile_check_device(run->profile, info, error))
		return FALSE;
	if (!fst_run_recognise(run, error))
		return FALSE;
	if (!fst_profile_get_burn_object(run->profile, FST_OBJECT_TRUST_ROOTS)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "profile %s writes no root CAs ([burn] objects), so a trust-only job "
		            "with it has nothing to do; choose a profile that writes trust-roots",
		            fst_profile_get_name(run->profile));
		return FALSE;
	}
	if (info->capacity[FST_OBJECT_TRUST_ROOTS] == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "device %s has no slot for root CAs: a trust-only job cannot update it",
		            info->uid);
		return FALSE;
	}
	if (!fst_run_plan_roots(run, &plan, error))
		return FALSE;
	if (!fst_run_verify_by_digest(run, &digest, error))
		return FALSE;
	names = fst_run_roots_description(&plan, FALSE);
	hashes = fst_run_roots_description(&plan, TRUE);
	run->result->roots = g_strdup(names);
	detail =
	    g_strdup_printf("trust-only, profile %s (%s), certificate %s untouched, roots %s (%s)",
	                    fst_profile_get_name(run->profile),
	                    fst_profile_get_content_sha256(run->profile),
	                    run->active->serial_hex,
	                    names,
	                    plan.roots_reason);
	fst_run_step_done(run, detail);

	/* burn and verify */
	fst_run_step(run, FST_STEP_BURN, 0.4, fst_object_kind_to_string(FST_OBJECT_TRUST_ROOTS));
	if (!fst_run_burn(run, FST_OBJECT_TRUST_ROOTS, plan.roots_blob, error))
		return FALSE;
	fst_run_step_done(run, NULL);
	fst_run_step(run, FST_STEP_VERIFY, 0.8, NULL);
	if (!fst_run_verify_object(run, digest, FST_OBJECT_TRUST_ROOTS, plan.roots_blob, error))
		return FALSE;
	fst_run_step_done(run,
	                  digest ? "root CAs verified by the device's digest of its storage"
	                         : "root CAs read back identical");

	/* done: the object (no certificate: it is the device's), the events and
	 * the device still provisioned, in one commit */
	fst_db_device_log_add_object(
	    run->log, NULL, FST_OBJECT_TRUST_ROOTS, plan.roots_blob, hashes);
	fst_db_device_log_finish(run->log, NULL, NULL);
	return fst_db_device_log_commit(fst_station_get_db(run->station), run->log, error);
}

static gboolean
fst_run_all(FstRun *run, GError **error)
{
	FstDb *db = fst_station_get_db(run->station);
	FstTransport *transport = fst_device_get_transport(run->device);
	const FstDeviceInfo *info;
	g_auto(FstPlan) plan = {0};
	g_autoptr(GBytes) csr = NULL;
	g_autoptr(GBytes) spki = NULL;
	g_autoptr(FstIssuedCert) issued = NULL;
	g_autoptr(GBytes) cert_blob = NULL;
	g_autoptr(GPtrArray) leaf = NULL;
	g_autofree gchar *roots_names = NULL;
	g_autofree gchar *roots_hashes = NULL;
	g_autofree gchar *detail = NULL;
	g_autofree gchar *returning = NULL;
	g_autoptr(FstSecret) device_key = NULL;
	g_autoptr(GBytes) escrow = NULL;
	gboolean station_key =
	    fst_profile_get_key_source(run->profile) == FST_KEY_SOURCE_STATION_GENERATED;
	gboolean digest = FALSE;
	gboolean by_csr = FALSE;
	g_autofree gchar *verified = NULL;
	g_autofree gchar *issue_detail = NULL;
	g_autoptr(FstAwsIot) aws = NULL;

	/* connect; a profile AWS IoT issues for gets this device's client
	 * first, before the device is touched (the run checked that AWS
	 * answers) */
	fst_run_step(run, FST_STEP_CONNECT, 0.02, NULL);
	if (fst_run_aws_issued(run) && !run->trust_only) {
		aws = fst_station_new_aws_issuer(run->station, run->profile, error);
		if (aws == NULL)
			return FALSE;
	}
	if (!fst_transport_open(transport, error))
		return FALSE;

	/* identify */
	fst_run_step(run, FST_STEP_IDENTIFY, 0.05, NULL);
	if (!fst_device_identify(run->device, run->cancellable, error))
		return FALSE;
	info = fst_device_get_info(run->device);
	run->result->uid = g_strdup(info->uid);
	run->result->model = g_strdup(info->model);
	/* the same id on two ports at once: the second is refused, and the
	 * first's records stay its own */
	if (!fst_station_claim_device(
	        run->station, info->uid, fst_transport_get_name(transport), error)) {
		run->refused = TRUE;
		return FALSE;
	}
	run->claimed = TRUE;
	run->log = fst_db_device_log_new(
	    fst_station_get_id(run->station), info, fst_transport_get_name(transport), error);
	if (run->log == NULL)
		return FALSE;
	detail = g_strdup_printf(
	    "model %s, firmware %s%s%s",
	    info->model,
	    info->firmware,
	    fst_device_get_lane(run->device) != NULL ? ", lane " : "",
	    fst_device_get_lane(run->device) != NULL ? fst_device_get_lane(run->device) : "");
	fst_run_step_done(run, detail);
	if (run->trust_only)
		return fst_run_trust(run, error);

	/* plan */
	fst_run_step(run, FST_STEP_PLAN, 0.1, NULL);
	if (!fst_run_plan(run, &plan, error))
		return FALSE;
	if (!fst_run_verify_by_digest(run, &digest, error))
		return FALSE;
	roots_names = fst_run_roots_description(&plan, FALSE);
	roots_hashes = fst_run_roots_description(&plan, TRUE);
	run->result->roots = g_strdup(roots_names);
	g_free(detail);
	if (run->active != NULL) {
		returning =
		    g_strdup_printf(", came back: replaces certificate %s, new one in slot %c%s",
		                    run->active->serial_hex,
		                    'A' + (gchar)run->slot,
		                    run->alternate ? " (alternate)" : "");
	}
	/* the roots last: reports take what follows ", roots " */
	detail = g_strdup_printf("profile %s (%s), key %s%s, roots %s%s%s%s",
	                         fst_profile_get_name(run->profile),
	                         fst_profile_get_content_sha256(run->profile),
	                         fst_key_type_to_string(plan.key_type),
	                         returning != NULL ? returning : "",
	                         roots_names[0] != '\0' ? roots_names : "none",
	                         plan.roots_reason != NULL ? " (" : "",
	                         plan.roots_reason != NULL ? plan.roots_reason : "",
	                         plan.roots_reason != NULL ? ")" : "");
	fst_run_step_done(run, detail);
	if (!fst_run_reserve_central(run, error))
		return FALSE;

	/* keygen: on the device (a CSR), or in the station (key injection),
	 * where the key exists only in wiped memory until the device has it */
	fst_run_step(run, FST_STEP_KEYGEN, 0.15, fst_key_type_to_string(plan.key_type));
	if (station_key && aws != NULL) {
		issued = fst_run_issue_aws(run, aws, NULL, &device_key, &issue_detail, error);
		if (issued == NULL)
			return FALSE;
		fst_run_step_done(run, "key made by AWS IoT");
	} else if (station_key) {
		issued = fst_ca_issue_with_station_key(
		    fst_station_get_ca(run->station),
		    run->profile,
		    info,
		    plan.key_type,
		    fst_station_get_key_pool(run->station, run->profile),
		    &device_key,
		    &escrow,
		    error);
		if (issued == NULL)
			return FALSE;
		/* never lose an escrow copy silently, nor keep one nobody asked for */
		if ((escrow != NULL) != (plan.escrow_sha256 != NULL)) {
			g_set_error_literal(error,
			                    FST_ERROR,
			                    FST_ERROR_INTERNAL,
			                    "the CA's key escrow does not match the profile's");
			return FALSE;
		}
		fst_run_step_done(run,
		                  escrow != NULL ? "station-generated key, escrowed"
		                                 : "station-generated key");
	} else if (fst_profile_get_key_source(run->profile) == FST_KEY_SOURCE_DEVICE_PUBLIC_KEY) {
		/* a bare public key proves nothing: the device signs a challenge
		 * with the new (staged) key before anything is issued for it */
		spki = fst_device_generate_public_key(
		    run->device, run->slot, plan.key_type, run->cancellable, error);
		if (spki == NULL)
			return FALSE;
		if (!fst_run_prove_spki(run, spki, "the public key it sent", error))
			return FALSE;
		fst_run_step_done(run, "device public key, possession proven");
	} else {
		csr = fst_device_generate_csr(
		    run->device, run->slot, plan.key_type, run->cancellable, error);
		if (csr == NULL)
			return FALSE;
		fst_run_step_done(run, NULL);
	}

	/* issue, and commit before burning */
	fst_run_step(run, FST_STEP_ISSUE, 0.35, NULL);
	if (!station_key && !fst_run_check_key_central(run, csr, spki, error))
		return FALSE;
	if (spki != NULL) {
		issued = fst_ca_issue_for_public_key(
		    fst_station_get_ca(run->station), run->profile, info, spki, error);
		if (issued == NULL)
			return FALSE;
	} else if (!station_key && aws != NULL) {
		issued = fst_run_issue_aws(run, aws, csr, NULL, &issue_detail, error);
		if (issued == NULL)
			return FALSE;
	} else if (!station_key) {
		issued = fst_ca_issue_from_csr(
		    fst_station_get_ca(run->station), run->profile, info, csr, error);
		if (issued == NULL)
			return FALSE;
	}
	{
		/* no issuer hash for AWS's CA: the station does not have it */
		g_autoptr(GBytes) ca_der =
		    aws == NULL ? fst_ca_get_cert_der(fst_station_get_ca(run->station)) : NULL;
		g_autofree gchar *issuer_sha256 =
		    ca_der != NULL ? fst_x509_sha256_hex(ca_der) : NULL;
		g_autofree gchar *profile_name = g_strdup(fst_profile_get_name(run->profile));
		g_autofree gchar *profile_sha256 =
		    g_strdup(fst_profile_get_content_sha256(run->profile));
		/* a certificate the profile registers enters the registration
		 * queue in the transaction that records it; one AWS issued is
		 * registered there already: its row carries the ARN, `done`
		 * unless the profile wants a thing and policy for it, and is
		 * where a revocation goes */
		g_autofree gchar *register_target =
		    aws != NULL ? fst_aws_iot_target(fst_aws_iot_get_region(aws))
		                : fst_profile_get_register_target(run->profile);
		FstDbCert rec = {
		    .serial_hex = issued->serial_hex,
		    .der = issued->der,
		    .aws_cert_id = issued->aws_cert_id,
		    .subject = issued->subject,
		    .key_type = issued->key_type,
		    .not_before = issued->not_before,
		    .not_after = issued->not_after,
		    .issuer_sha256 = issuer_sha256,
		    .profile = profile_name,
		    .profile_sha256 = profile_sha256,
		    .state = FST_CERT_STATE_ISSUED,
		    .slot = (gint)run->slot,
		    .register_target = register_target,
		    .register_remote_id = run->aws_arn,
		    .register_done = !fst_profile_get_aws(run->profile)->register_certs,
		};
		fst_db_device_log_add_certificate(run->log, &rec);
		/* the escrowed key is on disk with its certificate, in the commit
		 * before the key goes to the device */
		if (escrow != NULL)
			fst_db_device_log_add_escrow(
			    run->log, issued->serial_hex, plan.escrow_sha256, escrow);
		run->serial_hex = g_strdup(issued->serial_hex);
	}
	/* no detail for the station's CA: the certificate-issued event of the
	 * same commit names the serial and the DER's hash, and the certificate
	 * row the subject; AWS's issue names the ARN AWS created */
	fst_run_step_done(run, issue_detail);
	fst_trust_warn_ending_before(plan.roots, issued->not_after, info->uid);

	/* the certificate object, with the chain appended for JITP if asked */
	leaf = g_ptr_array_new();
	g_ptr_array_add(leaf, issued->der);
	if (fst_profile_get_append_ca(run->profile)) {
		for (guint i = 0; i < plan.chain_ders->len; i++)
			g_ptr_array_add(leaf, g_ptr_array_index(plan.chain_ders, i));
	}
	cert_blob = fst_x509_bundle_encode(leaf, fst_run_format(run));
	if (g_bytes_get_size(cert_blob) > info->capacity[FST_OBJECT_DEVICE_CERT]) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_STORAGE_FULL,
		            "the certificate needs %" G_GSIZE_FORMAT
		            " bytes and device %s has %u for it",
		            g_bytes_get_size(cert_blob),
		            info->uid,
		            info->capacity[FST_OBJECT_DEVICE_CERT]);
		fst_run_withdraw_aws(aws, issued, error);
		return FALSE;
	}

	/* the objects, then the first commit: the device row, the events so far,
	 * the certificate and the objects are on disk before any byte goes out;
	 * the device-cert and ca-chain objects get no description, because the
	 * hashes it would repeat are in the certificate row (aws_cert_id,
	 * issuer_sha256); the roots get their fingerprints */
	fst_db_device_log_add_object(
	    run->log, issued->serial_hex, FST_OBJECT_DEVICE_CERT, cert_blob, NULL);
	if (plan.chain != NULL)
		fst_db_device_log_add_object(
		    run->log, issued->serial_hex, FST_OBJECT_CA_CHAIN, plan.chain, NULL);
	if (plan.roots_blob != NULL)
		fst_db_device_log_add_object(run->log,
		                             issued->serial_hex,
		                             FST_OBJECT_TRUST_ROOTS,
		                             plan.roots_blob,
		                             roots_hashes);
	if (!fst_db_device_log_commit(db, run->log, error)) {
		/* nothing of the certificate is recorded: nothing to revoke; the
		 * failure is recorded with the steps so far, which the log keeps */
		g_clear_pointer(&run->serial_hex, g_free);
		fst_run_withdraw_aws(aws, issued, error);
		return FALSE;
	}
	run->result->serial_hex = g_strdup(issued->serial_hex);
	run->result->aws_cert_id = g_strdup(issued->aws_cert_id);
	if (aws != NULL && !fst_run_activate_aws(run, aws, issued, error))
		return FALSE;

	/* burn: the injected key first (its certificate is recorded), wiped
	 * from the station's memory as soon as the device has it */
	if (device_key != NULL) {
		gboolean ok;
		fst_run_step(run, FST_STEP_BURN, 0.4, "device key");
		ok = fst_device_put_key(
		    run->device, run->slot, plan.key_type, device_key, run->cancellable, error);
		g_clear_pointer(&device_key, fst_secret_free);
		if (!ok) {
			g_prefix_error(error, "injecting the device key: ");
			return FALSE;
		}
		fst_run_report(
		    run, FST_STEP_BURN, 0.45, fst_object_kind_to_string(FST_OBJECT_DEVICE_CERT));
	} else {
		fst_run_step(
		    run, FST_STEP_BURN, 0.45, fst_object_kind_to_string(FST_OBJECT_DEVICE_CERT));
	}
	if (!fst_run_burn(run, FST_OBJECT_DEVICE_CERT, cert_blob, error))
		return FALSE;
	/* one slot: the device committed the new certificate and key over the
	 * old ones, which are gone whatever happens next; the final commit
	 * supersedes the old certificate even if a later step fails */
	if (run->active != NULL && !run->alternate) {
		fst_db_device_log_supersede(run->log, run->active->serial_hex, issued->serial_hex);
		run->superseded = TRUE;
	}
	if (plan.chain != NULL) {
		fst_run_report(
		    run, FST_STEP_BURN, 0.6, fst_object_kind_to_string(FST_OBJECT_CA_CHAIN));
		if (!fst_run_burn(run, FST_OBJECT_CA_CHAIN, plan.chain, error))
			return FALSE;
	}
	if (plan.roots_blob != NULL) {
		fst_run_report(
		    run, FST_STEP_BURN, 0.72, fst_object_kind_to_string(FST_OBJECT_TRUST_ROOTS));
		if (!fst_run_burn(run, FST_OBJECT_TRUST_ROOTS, plan.roots_blob, error))
			return FALSE;
	}
	/* a device that passes goes from issued to verified in the final commit
	 * (one certificate-state event, not two); the burned state is recorded
	 * only for a device that fails after this */
	run->burned = TRUE;
	fst_run_step_done(run, NULL);

	/* verify */
	fst_run_step(run, FST_STEP_VERIFY, 0.85, NULL);
	if (!fst_run_verify_object(run, digest, FST_OBJECT_DEVICE_CERT, cert_blob, error))
		return FALSE;
	if (plan.chain != NULL &&
	    !fst_run_verify_object(run, digest, FST_OBJECT_CA_CHAIN, plan.chain, error))
		return FALSE;
	if (plan.roots_blob != NULL &&
	    !fst_run_verify_object(run, digest, FST_OBJECT_TRUST_ROOTS, plan.roots_blob, error))
		return FALSE;
	/* a device that cannot sign challenges (an nRF91 modem) proved its key
	 * by the signature of the CSR it made: the certificate is for that key */
	by_csr = csr != NULL && !info->can_sign;
	if (!by_csr) {
		fst_run_report(run, FST_STEP_VERIFY, 0.93, "proof of possession");
		if (!fst_run_prove(run, issued->der, error))
			return FALSE;
	}
	/* A/B: the device switches to the new slot only now that it is read
	 * back and proven; until here its old slot was untouched and in use */
	if (run->alternate) {
		fst_run_report(run, FST_STEP_VERIFY, 0.96, "activate");
		if (!fst_device_activate_slot(run->device, run->slot, run->cancellable, error)) {
			g_prefix_error(
			    error, "activating credential slot %c: ", 'A' + (gchar)run->slot);
			return FALSE;
		}
	}
	verified =
	    g_strdup_printf("%s, %s%s",
	                    digest ? "all objects verified by the device's digest of its storage"
	                           : "all objects read back identical",
	                    by_csr ? "key proven by the CSR signature (the device cannot sign "
	                             "challenges)"
	                           : "proof of possession verified",
	                    run->alternate ? ", slot activated" : "");
	fst_run_step_done(run, verified);

	/* done: the second commit, with the final states; with A/B slots the
	 * certificate the device used before is superseded now that the device
	 * switched (a failure before the switch leaves it in service) */
	if (run->active != NULL && !run->superseded)
		fst_db_device_log_supersede(run->log, run->active->serial_hex, issued->serial_hex);
	fst_db_device_log_finish(run->log, issued->serial_hex, NULL);
	return fst_db_device_log_commit(db, run->log, error);
}

static void
fst_run_not_recorded(FstProvisionResult *result, GError *error, const GError *error_db)
{
	g_warning(
	    "cannot record the failure of %s in the database: %s", result->port, error_db->message);
	g_prefix_error(&error, "(NOT RECORDED: %s) ", error_db->message);
	if (result->unrecorded == NULL)
		result->unrecorded = g_error_copy(error_db);
}

/* one commit: the certificate revoked (with @revoke), the failed step and the
 * device state; on success, @error says what became of the certificate */
static gboolean
fst_run_record_failure(FstRun *run, GError *error, gboolean revoke, GError **error_db)
{
	FstDb *db = fst_station_get_db(run->station);
	g_autofree gchar *message = NULL;

	revoke = revoke && run->serial_hex != NULL;
	if (revoke && run->burned)
		fst_db_device_log_set_certificate_state(
		    run->log, run->serial_hex, FST_CERT_STATE_BURNED);
	if (revoke) {
		fst_db_device_log_set_certificate_state(
		    run->log, run->serial_hex, FST_CERT_STATE_REVOKED);
		message = g_strdup_printf(
		    "%s; its certificate %s is revoked", error->message, run->serial_hex);
	}
	fst_db_device_log_add_event(run->log,
	                            fst_step_to_string(run->step),
	                            run->step_started_us,
	                            g_get_real_time(),
	                            fst_error_code_to_string(error->code),
	                            message != NULL ? message : error->message);
	if (message != NULL) {
		g_autoptr(GError) failure =
		    g_error_new_literal(error->domain, error->code, message);
		fst_db_device_log_finish(run->log, run->serial_hex, failure);
	} else {
		fst_db_device_log_finish(run->log, run->serial_hex, error);
	}
	if (!fst_db_device_log_commit(db, run->log, error_db))
		return FALSE;
	if (message != NULL) {
		g_free(error->message);
		error->message = g_steal_pointer(&message);
		/* a certificate logged but not committed before the failure is
		 * recorded now */
		if (run->result->serial_hex == NULL)
			run->result->serial_hex = g_strdup(run->serial_hex);
	}
	return TRUE;
}

/* both jobs: the steps, then the failure recorded, or the refusal */
static FstProvisionResult *
fst_pipeline_run(FstStation *station,
                 const FstProfile *profile,
                 FstDevice *device,
                 gboolean trust_only,
                 FstProgressFunc progress,
                 gpointer user_data,
                 GCancellable *cancellable)
{
	FstTransport *transport = fst_device_get_transport(device);
	FstProvisionResult *result = g_new0(FstProvisionResult, 1);
	FstRun run = {
	    .station = station,
	    .profile = profile,
	    .device = device,
	    .progress = progress,
	    .user_data = user_data,
	    .cancellable = cancellable,
	    .result = result,
	    .trust_only = trust_only,
	};
	gint64 started = g_get_monotonic_time();
	g_autoptr(GError) error = NULL;

	result->port = g_strdup(fst_transport_get_name(transport));
	result->lane = g_strdup(fst_device_get_lane(device));
	if (!fst_run_all(&run, &error)) {
		g_autoptr(GError) error_db = NULL;
		FstDb *db = fst_station_get_db(station);
		if (error->domain != FST_ERROR)
			fst_error_convert_gio(&error);
		/* the certificate of a failed device revoked, the failed step and
		 * the device state, in one commit with whatever the log holds; if
		 * even this fails the database is gone, and the operator must hear it */
		if (run.log == NULL || run.refused) {
			/* before identification (no device to name), or a device
			 * refused by the profile: one event, and its records and
			 * state stay as they are */
			g_autoptr(FstDbDevice) dev =
			    run.refused ? fst_db_find_device(db, result->uid, NULL) : NULL;
			if (!fst_db_add_event(db,
			                      dev != NULL ? dev->id : 0,
			                      fst_step_to_string(run.step),
			                      run.step_started_us,
			                      g_get_real_time(),
			                      fst_error_code_to_string(error->code),
			                      error->message,
			                      &error_db))
				fst_run_not_recorded(result, error, error_db);
		} else if (!fst_run_record_failure(&run, error, TRUE, &error_db)) {
			/* the log is gone with the failed final commit: at least
			 * the failure */
			g_clear_error(&error_db);
			if (!fst_run_record_failure(&run, error, FALSE, &error_db))
				fst_run_not_recorded(result, error, error_db);
		}
		fst_run_report(&run, FST_STEP_FAILED, 1.0, error->message);
		result->error = g_steal_pointer(&error);
		result->step = run.step;
	} else {
		fst_run_report(
		    &run, FST_STEP_DONE, 1.0, trust_only ? "root CAs updated" : result->serial_hex);
	}
	if (run.central_reserved)
		fst_central_station_release(station, result->uid, result->error == NULL);
	if (run.claimed)
		fst_station_release_device(station, result->uid);
	g_clear_pointer(&run.log, fst_db_device_log_free);
	g_clear_pointer(&run.active, fst_db_cert_free);
	g_clear_pointer(&run.aws_arn, g_free);
	g_free(run.serial_hex);
	fst_transport_close(transport);
	result->elapsed_us = g_get_monotonic_time() - started;
	result->bytes_out = fst_transport_get_bytes_written(transport);
	result->bytes_in = fst_transport_get_bytes_read(transport);
	return result;
}

/**
 * fst_pipeline_provision:
 * @station: the station
 * @profile: the profile to provision with
 * @device: a device on a transport, not yet opened
 * @progress: (scope call) (nullable): called from this thread at each step
 * @user_data: data for @progress
 * @cancellable: (nullable): stops between and inside device exchanges
 *
 * Provisions one device from identification to verified read-back, recording
 * every step (see the top of this file). A device that comes back (it has a
 * certificate in service) is refused or re-provisioned as the profile says
 * (`on-return`, `credential-slots`); a profile with `job=trust-only` runs
 * fst_pipeline_update_trust() instead. Runs in the calling thread: the CLI
 * and the GUI give each port a worker thread.
 *
 * Returns: (transfer full): the result, with @error set when the device failed
 *   or was refused
 */
FstProvisionResult *
fst_pipeline_provision(FstStation *station,
                       const FstProfile *profile,
                       FstDevice *device,
                       FstProgressFunc progress,
                       gpointer user_data,
                       GCancellable *cancellable)
{
	return fst_pipeline_run(station,
	                        profile,
	                        device,
	                        fst_profile_get_job(profile) == FST_PROFILE_JOB_TRUST_ONLY,
	                        progress,
	                        user_data,
	                        cancellable);
}

/**
 * fst_pipeline_update_trust:
 * @station: the station
 * @profile: the profile whose trust selection is written (any job kind)
 * @device: a device on a transport, not yet opened
 * @progress: (scope call) (nullable): called from this thread at each step
 * @user_data: data for @progress
 * @cancellable: (nullable): stops between and inside device exchanges
 *
 * A trust-only job (`fleetstation provision --trust-only`): identifies the
 * device, requires a certificate in service for it in the database (else
 * %FST_ERROR_NOT_FOUND, and nothing is written), selects the roots from the
 * profile and the device's capabilities, writes the trust-roots object, reads
 * it back, and records the object and the events in one commit. Nothing else
 * on the device changes. A failure marks the device failed, with its
 * certificate left in service.
 *
 * Returns: (transfer full): the result (no serial), with @error set when the
 *   device failed or was refused
 */
FstProvisionResult *
fst_pipeline_update_trust(FstStation *station,
                          const FstProfile *profile,
                          FstDevice *device,
                          FstProgressFunc progress,
                          gpointer user_data,
                          GCancellable *cancellable)
{
	return fst_pipeline_run(station, profile, device, TRUE, progress, user_data, cancellable);
}
