/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The registration worker: drains the registration queue (db/fst-db-
 * registrations.c) into AWS IoT, never in the way of the line. Per
 * certificate: register it (with or without its CA), record the ARN, create
 * the thing the profile names, attach the certificate to it, attach the
 * profile's policy, then mark the row done. Superseded certificates are
 * deactivated (UpdateCertificate INACTIVE), revoked ones revoked
 * (UpdateCertificate REVOKED); a revoked certificate is not registered.
 *
 * Exactly once: a row taken by a run that did not finish it (killed) comes
 * back `resumed`, and a row tried before has attempts > 1; for both the worker
 * first asks AWS (DescribeCertificate by the SHA-256 of the DER) and goes on
 * from what AWS has. The later steps are idempotent at AWS (CreateThing with
 * the same attributes, AttachThingPrincipal, AttachPolicy).
 *
 * Every AWS call that changes state is an audit event of the certificate's
 * device (`aws-register-certificate`, `aws-create-thing`,
 * `aws-attach-thing-principal`, `aws-attach-policy`,
 * `aws-deactivate-certificate`, `aws-revoke-certificate`; `aws-create-policy`
 * station-wide).
 *
 * A worker runs on the caller's thread (fst_registration_push()) or on a
 * thread of its own (fst_registration_start() / fst_registration_stop()); it
 * has its own database connections and its own AWS client.
 *
 * The rows come from one of two sources: the station's own queue, or the
 * central registry's (fst_registration_new_central(), db/central.md
 * "Registration queue"), which several registrars drain at once, each row
 * claimed by one of them (FOR UPDATE SKIP LOCKED) for a lease it renews as
 * it goes; a registrar that dies leaves its row to be claimed again when the
 * lease ends, with its attempts above 1 (ask AWS first). The audit events of
 * central rows go to the registrar's own station database.
 */

#define G_LOG_DOMAIN "FstRegistration"

#include "fst-registration.h"

#include <json-glib/json-glib.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

#include "fst-central.h"
#include "fst-db-queue.h"
#include "fst-db.h"
#include "fst-json.h"
#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-ca-store.h"
#include "fst-profile.h"
#include "fst-station.h"

struct _FstRegistration {
	GObject parent_instance;
	FstAwsIot *iot;      /* (owned) */
	FstDb *db;           /* (owned): audit events */
	FstDbQueue *queue;   /* (owned) (nullable): the station's queue, the source of rows */
	FstCentral *central; /* (owned) (nullable): else the central registry's queue */
	gchar *registrar;    /* (owned) (nullable): this worker's name in the central queue */
	gchar *target;       /* (owned): the rows it takes, its client's region's (and `*`) */
	gchar *thing_template;
	gchar *policy_name;         /* (nullable) */
	gchar *policy_document;     /* (nullable) */
	GHashTable *policies_ready; /* (owned) (element-type utf8): created or found */
	GHashTable *profiles;       /* (owned) (nullable): name -> FstProfile */
	guint overrides;            /* FstRegistrationOverride */
	gboolean with_ca;
	GHashTable *ca_pems; /* (owned) (nullable) */
	gboolean inactive;
	guint max_attempts;
	gint64 lease_us;
	gint64 poll_us;
	GMutex mutex; /* guards stats, and the wake-up */
	GCond cond;
	FstRegistrationStats stats;
	GThread *thread;           /* (owned) (nullable) */
	GCancellable *cancellable; /* (owned) (nullable): the started thread's */
};

G_DEFINE_TYPE(FstRegistration, fst_registration, G_TYPE_OBJECT)

static void
fst_registration_finalize(GObject *object)
{
	FstRegistration *self = FST_REGISTRATION(object);
	fst_registration_stop(self);
	g_clear_object(&self->iot);
	g_clear_pointer(&self->db, fst_db_close);
	g_clear_pointer(&self->queue, fst_db_queue_free);
	g_clear_pointer(&self->central, fst_central_free);
	g_free(self->registrar);
	g_free(self->target);
	g_free(self->thing_template);
	g_free(self->policy_name);
	g_free(self->policy_document);
	g_hash_table_unref(self->policies_ready);
	if (self->profiles != NULL)
		g_hash_table_unref(self->profiles);
	if (self->ca_pems != NULL)
		g_hash_table_unref(self->ca_pems);
	g_mutex_clear(&self->mutex);
	g_cond_clear(&self->cond);
	G_OBJECT_CLASS(fst_registration_parent_class)->finalize(object);
}

static void
fst_registration_class_init(FstRegistrationClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = fst_registration_finalize;
}

static void
fst_registration_init(FstRegistration *self)
{
	g_mutex_init(&self->mutex);
	g_cond_init(&self->cond);
	self->policies_ready = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

/* a worker with its audit database and its configuration; its source of
 * rows is set by the caller */
static FstRegistration *
fst_registration_new_common(const gchar *db_path,
                            FstAwsIot *iot,
                            const FstRegistrationConfig *config,
                            GError **error)
{
	g_autoptr(FstRegistration) self = g_object_new(FST_TYPE_REGISTRATION, NULL);

	g_return_val_if_fail(FST_IS_AWS_IOT(iot), NULL);
	g_return_val_if_fail(config != NULL, NULL);
	self->iot = g_object_ref(iot);
	/* the rows of the client's region (and `*`), from either source: another
	 * region's rows wait for a worker of that region */
	self->target = fst_aws_iot_target(fst_aws_iot_get_region(iot));
	self->db = fst_db_open(db_path, error);
	if (self->db == NULL)
		return NULL;
	self->thing_template =
	    g_strdup(config->thing_name_template != NULL ? config->thing_name_template : "{uid}");
	self->policy_name = g_strdup(config->policy_name);
	self->policy_document = g_strdup(config->policy_document);
	self->with_ca = config->with_ca;
	if (config->ca_pems != NULL)
		self->ca_pems = g_hash_table_ref(config->ca_pems);
	self->inactive = config->inactive;
	if (config->profiles != NULL)
		self->profiles = g_hash_table_ref(config->profiles);
	self->overrides = config->overrides;
	self->max_attempts = config->max_attempts > 0 ? config->max_attempts : 10;
	self->lease_us = config->lease_us > 0 ? config->lease_us : 60 * G_USEC_PER_SEC;
	self->poll_us = config->poll_us > 0 ? config->poll_us : G_USEC_PER_SEC;
	return g_steal_pointer(&self);
}

/**
 * fst_registration_new:
 * @db_path: the station database (made by fst_db_open() before)
 * @iot: the AWS IoT client (a reference is taken; the worker's thread uses it
 *   alone from then on)
 * @config: what to do with each certificate
 * @error: (nullable): return location for a #GError
 *
 * Makes a registration worker with its own connections to the database.
 *
 * Returns: (transfer full): the worker, or %NULL
 */
FstRegistration *
fst_registration_new(const gchar *db_path,
                     FstAwsIot *iot,
                     const FstRegistrationConfig *config,
                     GError **error)
{
	g_autoptr(FstRegistration) self = NULL;

	g_return_val_if_fail(db_path != NULL, NULL);
	self = fst_registration_new_common(db_path, iot, config, error);
	if (self == NULL)
		return NULL;
	self->queue = fst_db_queue_open(db_path, error);
	if (self->queue == NULL)
		return NULL;
	fst_db_queue_set_target(self->queue, self->target);
	return g_steal_pointer(&self);
}

/**
 * fst_registration_new_central:
 * @db_path: the registrar's station database (its audit events)
 * @central: (transfer full): a connection to the central registry, used by
 *   the worker alone from then on
 * @registrar: this worker's name in the central queue, unique among the
 *   registrars running at a time
 * @iot: the AWS IoT client (a reference is taken)
 * @config: what to do with each certificate; @lease_us is the claim of a
 *   central row, renewed as the worker goes
 * @error: (nullable): return location for a #GError
 *
 * Makes a registration worker that takes its rows from the central
 * registry's queue, the rows every station shipped there, instead of the
 * station's own: `fleetstation register push --central`. It claims only the
 * rows of its client's region (and `*`), as a worker of the station's queue
 * does.
 *
 * Returns: (transfer full): the worker, or %NULL
 */
FstRegistration *
fst_registration_new_central(const gchar *db_path,
                             FstCentral *central,
                             const gchar *registrar,
                             FstAwsIot *iot,
                             const FstRegistrationConfig *config,
                             GError **error)
{
	g_autoptr(FstCentral) central_owned = central;
	g_autoptr(FstRegistration) self = NULL;

	g_return_val_if_fail(db_path != NULL && central != NULL && registrar != NULL, NULL);
	self = fst_registration_new_common(db_path, iot, config, error);
	if (self == NULL)
		return NULL;
	self->central = g_steal_pointer(&central_owned);
	self->registrar = g_strdup(registrar);
	return g_steal_pointer(&self);
}

/**
 * fst_registration_get_stats:
 * @self: an #FstRegistration
 * @stats: (out caller-allocates): what the worker has done
 *
 * Reads the worker's counters (from any thread).
 */
void
fst_registration_get_stats(FstRegistration *self, FstRegistrationStats *stats)
{
	g_return_if_fail(FST_IS_REGISTRATION(self));
	g_mutex_lock(&self->mutex);
	*stats = self->stats;
	g_mutex_unlock(&self->mutex);
}

/**
 * fst_registration_thing_name:
 * @template_str: e.g. `line4-{uid}` (`{device}` is the uid too)
 * @uid: the device uid
 * @serial: the certificate serial
 * @aws_cert_id: the certificate's AWS id
 * @lot: (nullable): the lot
 *
 * Expands a thing-name template. AWS thing names are `[a-zA-Z0-9:_-]+`:
 * any other character of the result becomes `_`.
 *
 * Returns: (transfer full): the thing name
 */
gchar *
fst_registration_thing_name(const gchar *template_str,
                            const gchar *uid,
                            const gchar *serial,
                            const gchar *aws_cert_id,
                            const gchar *lot)
{
	g_autoptr(GString) out = g_string_new(template_str);

	g_string_replace(out, "{uid}", uid, 0);
	g_string_replace(out, "{device}", uid, 0);
	g_string_replace(out, "{serial}", serial, 0);
	g_string_replace(out, "{aws_cert_id}", aws_cert_id, 0);
	g_string_replace(out, "{lot}", lot != NULL ? lot : "", 0);
	for (gsize i = 0; i < out->len; i++) {
		gchar c = out->str[i];
		if (!g_ascii_isalnum(c) && c != ':' && c != '_' && c != '-')
			out->str[i] = '_';
	}
	if (out->len > 128)
		g_string_truncate(out, 128);
	return g_string_free(g_steal_pointer(&out), FALSE);
}

static gchar *
fst_registration_pem(GBytes *der, GError **error)
{
	gsize len = 0;
	const guint8 *p = g_bytes_get_data(der, &len);
	g_autoptr(X509) x509 = d2i_X509(NULL, &p, (glong)len);
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;

	if (x509 == NULL || bio == NULL || PEM_write_bio_X509(bio, x509) != 1) {
		fst_error_set_openssl(
		    error, FST_ERROR_INVALID_DATA, "reading a recorded certificate");
		return NULL;
	}
	BIO_get_mem_ptr(bio, &mem);
	return g_strndup(mem->data, mem->length);
}

/* one audit event; a failure to record it fails the step (never unaudited) */
static gboolean
fst_registration_audit(FstRegistration *self,
                       gint64 device_id,
                       const gchar *step,
                       gint64 started,
                       const gchar *outcome,
                       const gchar *detail,
                       GError **error)
{
	return fst_db_add_event(
	    self->db, device_id, step, started, g_get_real_time(), outcome, detail, error);
}

/* the source of rows: the station's queue, or the central registry's */

/* a central row as the station's queue gives one (no local device: the
 * audit events are station-wide) */
static FstDbQueueItem *
fst_registration_item_from_central(FstCentralRegistration *reg)
{
	FstDbQueueItem *item = g_new0(FstDbQueueItem, 1);

	item->id = reg->id;
	item->device_uid = g_steal_pointer(&reg->device_uid);
	item->serial_hex = g_steal_pointer(&reg->serial_hex);
	item->aws_cert_id = g_steal_pointer(&reg->aws_cert_id);
	item->der = g_steal_pointer(&reg->der);
	item->issuer_sha256 = g_steal_pointer(&reg->issuer_sha256);
	item->lot = g_steal_pointer(&reg->lot);
	item->target = g_steal_pointer(&reg->target);
	item->action = g_steal_pointer(&reg->action);
	item->state = g_strdup("in-progress");
	item->remote_id = g_steal_pointer(&reg->remote_id);
	item->attempts = reg->attempts;
	item->resumed = reg->attempts > 1;
	return item;
}

/* the next due row, or NULL (error unset) when none is */
static FstDbQueueItem *
fst_registration_source_claim(FstRegistration *self, GError **error)
{
	g_autoptr(GPtrArray) rows = NULL;

	if (self->central == NULL)
		return fst_db_queue_claim(self->queue, g_get_real_time(), self->lease_us, error);
	rows = fst_central_claim_registrations(
	    self->central, self->registrar, self->target, NULL, 1, self->lease_us, error);
	if (rows == NULL || rows->len == 0)
		return NULL;
	return fst_registration_item_from_central(g_ptr_array_index(rows, 0));
}

/* a central claim another registrar took over (this one's lease ran out):
 * the row is that registrar's now, which asks AWS before doing anything */
static gboolean
fst_registration_source_check(FstRegistration *self, FstDbQueueItem *item, GError **error)
{
	if (error == NULL || !g_error_matches(*error, FST_ERROR, FST_ERROR_NOT_FOUND))
		return FALSE;
	g_message("certificate %s: %s", item->serial_hex, (*error)->message);
	g_clear_error(error);
	return TRUE;
}

static gboolean
fst_registration_source_set_remote_id(FstRegistration *self,
                                      FstDbQueueItem *item,
                                      const gchar *remote_id,
                                      GError **error)
{
	if (self->central == NULL)
		return fst_db_queue_set_remote_id(
		    self->queue, item->id, remote_id, g_get_real_time() + self->lease_us, error);
	return fst_central_renew_registration(
	    self->central, item->id, self->registrar, remote_id, self->lease_us, error);
}

static gboolean
fst_registration_source_finish(FstRegistration *self,
                               FstDbQueueItem *item,
                               const gchar *remote_id,
                               GError **error)
{
	if (self->central == NULL)
		return fst_db_queue_finish(self->queue, item->id, remote_id, error);
	return fst_central_complete_registration(
	           self->central, item->id, self->registrar, remote_id, NULL, error) ||
	       fst_registration_source_check(self, item, error);
}

/* due again at @next_attempt_us (unix microseconds, 0: at once), or never
 * (@next_attempt_us < 0: failed) */
static gboolean
fst_registration_source_defer(FstRegistration *self,
                              FstDbQueueItem *item,
                              gint64 next_attempt_us,
                              const gchar *last_error,
                              GError **error)
{
	gint64 delay = next_attempt_us < 0 ? -1 : MAX(next_attempt_us - g_get_real_time(), 0);

	if (self->central == NULL && next_attempt_us < 0)
		return fst_db_queue_fail(self->queue, item->id, last_error, error);
	if (self->central == NULL)
		return fst_db_queue_defer(
		    self->queue, item->id, next_attempt_us, last_error, error);
	return fst_central_defer_registration(
	           self->central, item->id, self->registrar, last_error, delay, error) ||
	       fst_registration_source_check(self, item, error);
}

/* what one certificate gets: the worker's settings, or those of the
 * `[aws]` group of the certificate's profile where the worker has that
 * profile and was not told otherwise (FstRegistrationConfig.overrides) */
typedef struct {
	const gchar *thing_template;
	const gchar *policy_name;     /* (nullable) */
	const gchar *policy_document; /* (nullable) */
	gboolean with_ca;
	gboolean inactive;
} FstRegistrationSettings;

static void
fst_registration_settings(FstRegistration *self,
                          const FstDbQueueItem *item,
                          FstRegistrationSettings *settings)
{
	const FstProfile *profile = NULL;
	const FstProfileAws *aws;

	settings->thing_template = self->thing_template;
	settings->policy_name = self->policy_name;
	settings->policy_document = self->policy_document;
	settings->with_ca = self->with_ca;
	settings->inactive = self->inactive;
	if (self->profiles != NULL && item->profile != NULL)
		profile = g_hash_table_lookup(self->profiles, item->profile);
	if (profile == NULL)
		return;
	aws = fst_profile_get_aws(profile);
	if ((self->overrides & FST_REGISTRATION_OVERRIDE_THING_NAME) == 0)
		settings->thing_template = aws->thing_name != NULL ? aws->thing_name : "{uid}";
	if ((self->overrides & FST_REGISTRATION_OVERRIDE_POLICY) == 0) {
		settings->policy_name = aws->policy;
		settings->policy_document = aws->policy_document;
	}
	if ((self->overrides & FST_REGISTRATION_OVERRIDE_WITH_CA) == 0)
		settings->with_ca = aws->with_ca;
	if ((self->overrides & FST_REGISTRATION_OVERRIDE_STATUS) == 0)
		settings->inactive = aws->inactive;
}

/* the policy, created once per worker if AWS does not have it */
static gboolean
fst_registration_ensure_policy(FstRegistration *self,
                               const FstRegistrationSettings *settings,
                               GCancellable *cancellable,
                               GError **error)
{
	gboolean existed = FALSE;
	gint64 started = g_get_real_time();
	g_autofree gchar *detail = NULL;

	if (settings->policy_document == NULL ||
	    g_hash_table_contains(self->policies_ready, settings->policy_name))
		return TRUE;
	if (!fst_aws_iot_create_policy(self->iot,
	                               settings->policy_name,
	                               settings->policy_document,
	                               &existed,
	                               cancellable,
	                               error))
		return FALSE;
	detail = g_strdup_printf(
	    "policy %s in %s", settings->policy_name, fst_aws_iot_get_region(self->iot));
	if (!existed &&
	    !fst_registration_audit(self, 0, "aws-create-policy", started, "ok", detail, error))
		return FALSE;
	g_hash_table_add(self->policies_ready, g_strdup(settings->policy_name));
	return TRUE;
}

/* register (or find) the certificate, then thing, principal and policy */
static gboolean
fst_registration_register(FstRegistration *self,
                          FstDbQueueItem *item,
                          GCancellable *cancellable,
                          GError **error)
{
	g_autoptr(FstAwsCertificate) cert = NULL;
	g_autofree gchar *pem = NULL;
	g_autofree gchar *thing = NULL;
	g_autofree gchar *thing_arn = NULL;
	g_autofree gchar *detail = NULL;
	const gchar *ca_pem = NULL;
	gboolean found = FALSE;
	gint64 started;
	FstRegistrationSettings settings;

	/* revoked before it was registered: nothing to register (a certificate
	 * AWS has already is revoked there by its `revoke` row) */
	if (g_strcmp0(item->cert_state, "revoked") == 0) {
		gint64 now = g_get_real_time();
		detail =
		    g_strdup_printf("certificate %s is revoked: not registered, no thing or policy",
		                    item->serial_hex);
		if (!fst_registration_audit(self,
		                            item->device_id,
		                            "aws-register-certificate",
		                            now,
		                            "skipped-revoked",
		                            detail,
		                            error))
			return FALSE;
		return fst_registration_source_finish(self, item, item->remote_id, error);
	}
	fst_registration_settings(self, item, &settings);

	/* a run may have done it already: ask AWS first */
	if (item->resumed || item->attempts > 1 || item->remote_id != NULL) {
		g_autoptr(GError) error_local = NULL;
		cert = fst_aws_iot_describe_certificate(
		    self->iot, item->aws_cert_id, cancellable, &error_local);
		if (cert == NULL && !g_error_matches(error_local, FST_ERROR, FST_ERROR_NOT_FOUND)) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
		found = cert != NULL;
		if (found) {
			/* the run that registered it stopped before recording it */
			gint64 now = g_get_real_time();
			detail = g_strdup_printf(
			    "certificate %s found registered as %s (%s) by DescribeCertificate: %s",
			    item->serial_hex,
			    cert->certificate_arn,
			    cert->status != NULL ? cert->status : "status unknown",
			    item->resumed || item->attempts > 1 ? "a stopped run registered it"
			                                        : "AWS IoT issued it");
			if (!fst_registration_audit(self,
			                            item->device_id,
			                            "aws-register-certificate",
			                            now,
			                            "found-registered",
			                            detail,
			                            error))
				return FALSE;
		}
	}
	if (cert == NULL) {
		pem = fst_registration_pem(item->der, error);
		if (pem == NULL)
			return FALSE;
		if (settings.with_ca) {
			ca_pem = item->issuer_sha256 != NULL && self->ca_pems != NULL
			             ? g_hash_table_lookup(self->ca_pems, item->issuer_sha256)
			             : NULL;
			if (ca_pem == NULL) {
				g_set_error(
				    error,
				    FST_ERROR,
				    FST_ERROR_CONFIG,
				    "certificate %s: its CA (sha256 %s) is not in the workspace: "
				    "import it, or register without CA",
				    item->serial_hex,
				    item->issuer_sha256 != NULL ? item->issuer_sha256 : "unknown");
				return FALSE;
			}
		}
		started = g_get_real_time();
		cert = fst_aws_iot_register_certificate(
		    self->iot, pem, ca_pem, !settings.inactive, cancellable, error);
		if (cert == NULL)
			return FALSE;
		found = cert->already_registered;
		g_free(detail);
		detail = g_strdup_printf("certificate %s registered %s as %s (%s)%s",
		                         item->serial_hex,
		                         ca_pem != NULL ? "with its CA" : "without CA",
		                         cert->certificate_arn,
		                         settings.inactive ? "INACTIVE" : "ACTIVE",
		                         found ? ", AWS had it already" : "");
		if (!fst_registration_audit(self,
		                            item->device_id,
		                            "aws-register-certificate",
		                            started,
		                            found ? "already-registered" : "ok",
		                            detail,
		                            error))
			return FALSE;
	}
	if (g_strcmp0(cert->certificate_id, item->aws_cert_id) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "certificate %s: AWS IoT knows it as %s, not as the SHA-256 of its DER "
		            "(%s)",
		            item->serial_hex,
		            cert->certificate_id,
		            item->aws_cert_id);
		return FALSE;
	}
	if (!fst_registration_source_set_remote_id(self, item, cert->certificate_arn, error))
		return FALSE;

	/* thing */
	thing = fst_registration_thing_name(settings.thing_template,
	                                    item->device_uid,
	                                    item->serial_hex,
	                                    item->aws_cert_id,
	                                    item->lot);
	started = g_get_real_time();
	thing_arn = fst_aws_iot_create_thing(self->iot, thing, NULL, cancellable, error);
	if (thing_arn == NULL)
		return FALSE;
	g_free(detail);
	detail = g_strdup_printf("thing %s (%s)", thing, thing_arn);
	if (!fst_registration_audit(
	        self, item->device_id, "aws-create-thing", started, "ok", detail, error))
		return FALSE;
	started = g_get_real_time();
	if (!fst_aws_iot_attach_thing_principal(
	        self->iot, thing, cert->certificate_arn, cancellable, error))
		return FALSE;
	g_free(detail);
	detail = g_strdup_printf("certificate %s attached to thing %s", item->serial_hex, thing);
	if (!fst_registration_audit(
	        self, item->device_id, "aws-attach-thing-principal", started, "ok", detail, error))
		return FALSE;

	/* policy */
	if (settings.policy_name != NULL) {
		if (!fst_registration_ensure_policy(self, &settings, cancellable, error))
			return FALSE;
		started = g_get_real_time();
		if (!fst_aws_iot_attach_policy(
		        self->iot, settings.policy_name, cert->certificate_arn, cancellable, error))
			return FALSE;
		g_free(detail);
		detail = g_strdup_printf(
		    "policy %s attached to certificate %s", settings.policy_name, item->serial_hex);
		if (!fst_registration_audit(
		        self, item->device_id, "aws-attach-policy", started, "ok", detail, error))
			return FALSE;
	}
	if (!fst_registration_source_finish(self, item, cert->certificate_arn, error))
		return FALSE;
	g_mutex_lock(&self->mutex);
	self->stats.registered++;
	if (found)
		self->stats.found++;
	g_mutex_unlock(&self->mutex);
	return TRUE;
}

/* the audit step of a row's action */
static const gchar *
fst_registration_step(const FstDbQueueItem *item)
{
	if (g_strcmp0(item->action, "deactivate") == 0)
		return "aws-deactivate-certificate";
	if (g_strcmp0(item->action, "revoke") == 0)
		return "aws-revoke-certificate";
	return "aws-register-certificate";
}

/* a superseded certificate set INACTIVE, a revoked one REVOKED
 * (UpdateCertificate); a certificate AWS does not have is done as well */
static gboolean
fst_registration_update_status(FstRegistration *self,
                               FstDbQueueItem *item,
                               GCancellable *cancellable,
                               GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *detail = NULL;
	gboolean revoke = g_strcmp0(item->action, "revoke") == 0;
	const gchar *status = revoke ? "REVOKED" : "INACTIVE";
	gint64 started = g_get_real_time();
	const gchar *outcome = "ok";

	if (!fst_aws_iot_update_certificate(
	        self->iot, item->aws_cert_id, status, cancellable, &error_local)) {
		if (!g_error_matches(error_local, FST_ERROR, FST_ERROR_NOT_FOUND)) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
		/* never registered there (JITP that never ran, an offline export) */
		outcome = "not-registered";
	}
	detail = g_strdup_printf("certificate %s (%s) set %s in %s",
	                         item->serial_hex,
	                         item->aws_cert_id,
	                         status,
	                         fst_aws_iot_get_region(self->iot));
	if (!fst_registration_audit(self,
	                            item->device_id,
	                            fst_registration_step(item),
	                            started,
	                            outcome,
	                            detail,
	                            error))
		return FALSE;
	if (!fst_registration_source_finish(self, item, NULL, error))
		return FALSE;
	/* counted where AWS had it: a certificate it never got is only done */
	g_mutex_lock(&self->mutex);
	if (g_strcmp0(outcome, "ok") == 0 && revoke)
		self->stats.revoked++;
	else if (g_strcmp0(outcome, "ok") == 0)
		self->stats.deactivated++;
	g_mutex_unlock(&self->mutex);
	return TRUE;
}

static gboolean
fst_registration_is_transient(const GError *error)
{
	return g_error_matches(error, FST_ERROR, FST_ERROR_BUSY) ||
	       g_error_matches(error, FST_ERROR, FST_ERROR_DISCONNECTED) ||
	       g_error_matches(error, FST_ERROR, FST_ERROR_TIMED_OUT) ||
	       g_error_matches(error, FST_ERROR, FST_ERROR_CANCELLED) ||
	       g_error_matches(error, FST_ERROR, FST_ERROR_DATABASE);
}

/**
 * fst_registration_process_one:
 * @self: an #FstRegistration
 * @did_one: (out): set if a row was due and taken
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * Takes the next due row and works it. A transient failure (throttling,
 * network, a cancel) puts the row back with a growing delay; after the
 * configured attempts, or on a failure that needs a person (credentials, a
 * rejected certificate), the row is `failed` with the reason. Only a
 * database failure is returned as an error: the row's own failure is in the
 * queue.
 *
 * Returns: %TRUE unless the queue itself could not be read or written
 */
gboolean
fst_registration_process_one(FstRegistration *self,
                             gboolean *did_one,
                             GCancellable *cancellable,
                             GError **error)
{
	g_autoptr(FstDbQueueItem) item = NULL;
	g_autoptr(GError) error_local = NULL;
	gboolean ok;

	g_return_val_if_fail(FST_IS_REGISTRATION(self), FALSE);
	*did_one = FALSE;
	item = fst_registration_source_claim(self, error);
	if (item == NULL)
		return error == NULL || *error == NULL;
	*did_one = TRUE;
	if (item->der == NULL || item->aws_cert_id == NULL) {
		/* a central row shipped by a station whose certificate row is not
		 * there (yet): tried again later */
		g_set_error_literal(&error_local,
		                    FST_ERROR,
		                    FST_ERROR_BUSY,
		                    "the certificate is not in the central registry yet");
		ok = FALSE;
	} else if (g_strcmp0(item->action, "register") != 0)
		ok = fst_registration_update_status(self, item, cancellable, &error_local);
	else
		ok = fst_registration_register(self, item, cancellable, &error_local);
	if (ok)
		return TRUE;

	g_prefix_error(&error_local, "certificate %s: ", item->serial_hex);
	if (g_error_matches(error_local, FST_ERROR, FST_ERROR_CANCELLED)) {
		/* stopped: due again at once for the next run */
		return fst_registration_source_defer(self, item, 0, error_local->message, error);
	}
	if (fst_registration_is_transient(error_local) &&
	    item->attempts < (gint)self->max_attempts) {
		/* 2 s, 4 s, 8 s ... up to 15 min, with jitter */
		gint64 ceiling = MIN((gint64)2 * G_USEC_PER_SEC << MIN(item->attempts, 10),
		                     (gint64)900 * G_USEC_PER_SEC);
		gint64 delay =
		    ceiling / 2 + g_random_int_range(0, (gint32)MIN(ceiling / 2, G_MAXINT32));
		g_mutex_lock(&self->mutex);
		self->stats.deferred++;
		g_mutex_unlock(&self->mutex);
		g_info("%s: trying again in %" G_GINT64_FORMAT " s",
		       error_local->message,
		       delay / G_USEC_PER_SEC);
		return fst_registration_source_defer(
		    self, item, g_get_real_time() + delay, error_local->message, error);
	}
	g_warning("registration failed: %s", error_local->message);
	g_mutex_lock(&self->mutex);
	self->stats.failed++;
	g_mutex_unlock(&self->mutex);
	{
		g_autofree gchar *detail = g_strdup(error_local->message);
		gint64 now = g_get_real_time();
		g_autoptr(GError) error_audit = NULL;
		if (!fst_db_add_event(self->db,
		                      item->device_id,
		                      fst_registration_step(item),
		                      now,
		                      now,
		                      "failed",
		                      detail,
		                      &error_audit))
			g_warning("cannot record the failure: %s", error_audit->message);
	}
	return fst_registration_source_defer(self, item, -1, error_local->message, error);
}

/**
 * fst_registration_push:
 * @self: an #FstRegistration
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * Works every row that is due now, on the caller's thread
 * (`fleetstation register push`). Rows put back for later stay for later.
 *
 * Returns: %TRUE unless the queue failed or @cancellable was cancelled
 */
gboolean
fst_registration_push(FstRegistration *self, GCancellable *cancellable, GError **error)
{
	g_return_val_if_fail(FST_IS_REGISTRATION(self), FALSE);
	while (TRUE) {
		gboolean did_one = FALSE;
		if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
			fst_error_convert_gio(error);
			return FALSE;
		}
		if (!fst_registration_process_one(self, &did_one, cancellable, error))
			return FALSE;
		if (!did_one)
			return TRUE;
	}
}

static gpointer
fst_registration_thread(gpointer data)
{
	FstRegistration *self = data;

	while (!g_cancellable_is_cancelled(self->cancellable)) {
		g_autoptr(GError) error = NULL;
		gboolean did_one = FALSE;

		if (!fst_registration_process_one(self, &did_one, self->cancellable, &error))
			g_warning("registration queue: %s", error->message);
		if (did_one)
			continue;
		/* nothing due (or the database failed): wait, or stop */
		g_mutex_lock(&self->mutex);
		if (!g_cancellable_is_cancelled(self->cancellable))
			g_cond_wait_until(
			    &self->cond, &self->mutex, g_get_monotonic_time() + self->poll_us);
		g_mutex_unlock(&self->mutex);
	}
	return NULL;
}

static void
fst_registration_cancelled_cb(GCancellable *cancellable, gpointer data)
{
	FstRegistration *self = data;
	g_mutex_lock(&self->mutex);
	g_cond_broadcast(&self->cond);
	g_mutex_unlock(&self->mutex);
}

/**
 * fst_registration_start:
 * @self: an #FstRegistration
 * @error: (nullable): return location for a #GError
 *
 * Starts draining the queue on a thread of the worker's own, until
 * fst_registration_stop(). New rows are seen within the poll interval.
 *
 * Returns: %TRUE on success; %FST_ERROR_BUSY if it runs already
 */
gboolean
fst_registration_start(FstRegistration *self, GError **error)
{
	g_return_val_if_fail(FST_IS_REGISTRATION(self), FALSE);
	if (self->thread != NULL) {
		g_set_error_literal(
		    error, FST_ERROR, FST_ERROR_BUSY, "the registration worker is running already");
		return FALSE;
	}
	self->cancellable = g_cancellable_new();
	g_cancellable_connect(
	    self->cancellable, G_CALLBACK(fst_registration_cancelled_cb), self, NULL);
	self->thread = g_thread_try_new("fst-registration", fst_registration_thread, self, error);
	if (self->thread == NULL) {
		g_clear_object(&self->cancellable);
		fst_error_convert_gio(error);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_registration_stop:
 * @self: an #FstRegistration
 *
 * Stops a started worker and waits for its thread: an AWS call in flight is
 * cancelled and its row put back, due at once for the next run. Does
 * nothing if the worker is not running.
 */
void
fst_registration_stop(FstRegistration *self)
{
	g_return_if_fail(FST_IS_REGISTRATION(self));
	if (self->thread == NULL)
		return;
	g_cancellable_cancel(self->cancellable);
	g_thread_join(g_steal_pointer(&self->thread));
	g_clear_object(&self->cancellable);
}

/* bulk registration: files for StartThingRegistrationTask, and its reports */

static gchar *
fst_registration_json_line(JsonBuilder *b)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = json_builder_get_root(b);
	json_generator_set_root(gen, root);
	return json_generator_to_data(gen, NULL);
}

/**
 * fst_registration_export:
 * @db_path: the station database
 * @lot: the lot whose pending registrations go
 * @thing_name_template: (nullable): as #FstRegistrationConfig (default `{uid}`)
 * @policy_name: (nullable): the policy the template attaches
 * @out_dir: where to write `LOT-params.jsonl` and `LOT-template.json`
 * @hold_us: how long the exported rows wait for the task's results before a
 *   worker takes them again (asking AWS first)
 * @n_exported: (out) (optional): lines written
 * @error: (nullable): return location for a #GError
 *
 * Writes the files of an AWS bulk registration for the lot's pending
 * `register` rows: the JSON-lines parameter file (one device a line,
 * `ThingName` and `CertificatePem`) and the provisioning template from
 * `templates/aws/bulk-register-template.json` it fits. The rows are held for
 * the task (`in-progress` until @hold_us from now); the results come back
 * with fst_registration_import_results(). A lot with no pending row is
 * %FST_ERROR_NOT_FOUND.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_registration_export(const gchar *db_path,
                        const gchar *lot,
                        const gchar *thing_name_template,
                        const gchar *policy_name,
                        const gchar *out_dir,
                        gint64 hold_us,
                        guint *n_exported,
                        GError **error)
{
	g_autoptr(FstDbQueue) queue = NULL;
	g_autoptr(GPtrArray) items = NULL;
	g_autoptr(GString) params = g_string_new(NULL);
	g_autofree gchar *template_path = g_build_filename(
	    fst_station_templates_dir(), "aws", "bulk-register-template.json", NULL);
	g_autofree gchar *template_text = NULL;
	g_autofree gchar *params_path = NULL;
	g_autofree gchar *out_template = NULL;
	g_autoptr(GString) tmpl = NULL;
	gint64 until = g_get_real_time() + hold_us;

	g_return_val_if_fail(db_path != NULL && lot != NULL && out_dir != NULL, FALSE);
	if (!g_file_get_contents(template_path, &template_text, NULL, error)) {
		fst_error_convert_gio(error);
		g_prefix_error(error, "reading the bulk registration template: ");
		return FALSE;
	}
	tmpl = g_string_new(template_text);
	if (policy_name != NULL) {
		g_string_replace(tmpl, "@POLICY@", policy_name, 0);
	} else {
		/* no policy: the template without its policy resource */
		g_autoptr(JsonParser) parser = json_parser_new();
		g_autoptr(JsonGenerator) gen = json_generator_new();
		JsonObject *res;
		if (!json_parser_load_from_data(parser, tmpl->str, -1, error)) {
			g_prefix_error(error, "%s: ", template_path);
			return FALSE;
		}
		res = fst_json_get_object(fst_json_root_object(parser), "Resources");
		if (res != NULL && json_object_has_member(res, "policy"))
			json_object_remove_member(res, "policy");
		json_generator_set_root(gen, json_parser_get_root(parser));
		json_generator_set_pretty(gen, TRUE);
		{
			g_autofree gchar *pretty = json_generator_to_data(gen, NULL);
			g_string_assign(tmpl, pretty);
		}
	}

	queue = fst_db_queue_open(db_path, error);
	if (queue == NULL)
		return FALSE;
	items = fst_db_queue_list(queue, "pending", lot, error);
	if (items == NULL)
		return FALSE;
	for (guint i = 0; i < items->len; i++) {
		FstDbQueueItem *item = g_ptr_array_index(items, i);
		g_autoptr(JsonBuilder) b = NULL;
		g_autofree gchar *pem = NULL;
		g_autofree gchar *thing = NULL;
		g_autofree gchar *line = NULL;

		if (g_strcmp0(item->action, "register") != 0)
			continue;
		pem = fst_registration_pem(item->der, error);
		if (pem == NULL)
			return FALSE;
		thing = fst_registration_thing_name(
		    thing_name_template != NULL ? thing_name_template : "{uid}",
		    item->device_uid,
		    item->serial_hex,
		    item->aws_cert_id,
		    item->lot);
		b = json_builder_new();
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "ThingName");
		json_builder_add_string_value(b, thing);
		json_builder_set_member_name(b, "CertificatePem");
		json_builder_add_string_value(b, pem);
		json_builder_end_object(b);
		line = fst_registration_json_line(b);
		g_string_append_printf(params, "%s\n", line);
	}
	if (params->len == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "lot %s has no certificate waiting for registration",
		            lot);
		return FALSE;
	}
	if (g_mkdir_with_parents(out_dir, 0700) != 0) {
		g_set_error(
		    error, FST_ERROR, FST_ERROR_PERMISSION_DENIED, "cannot make %s", out_dir);
		return FALSE;
	}
	params_path = g_strdup_printf("%s/%s-params.jsonl", out_dir, lot);
	out_template = g_strdup_printf("%s/%s-template.json", out_dir, lot);
	if (!g_file_set_contents(params_path, params->str, (gssize)params->len, error) ||
	    !g_file_set_contents(out_template, tmpl->str, (gssize)tmpl->len, error)) {
		fst_error_convert_gio(error);
		return FALSE;
	}
	/* only once the files are there: the rows wait for the task */
	if (n_exported != NULL)
		*n_exported = 0;
	for (guint i = 0; i < items->len; i++) {
		FstDbQueueItem *item = g_ptr_array_index(items, i);
		if (g_strcmp0(item->action, "register") != 0)
			continue;
		if (!fst_db_queue_hold(queue, item->id, until, error))
			return FALSE;
		if (n_exported != NULL)
			(*n_exported)++;
	}
	return TRUE;
}

/* the AWS id at the end of a certificate ARN */
static const gchar *
fst_registration_arn_id(const gchar *arn)
{
	const gchar *slash = arn != NULL ? strrchr(arn, '/') : NULL;
	return slash != NULL ? slash + 1 : NULL;
}

/**
 * fst_registration_import_results:
 * @db_path: the station database
 * @params_path: the parameter file the task read (fst_registration_export())
 * @reports: (array zero-terminated=1): result and error reports of the task
 *   (ListThingRegistrationTaskReports), JSON lines with `offset` and either
 *   `response` (with `ResourceArns.certificate`) or `errorMessage`
 * @n_registered: (out) (optional): certificates now registered
 * @n_failed: (out) (optional): certificates AWS refused
 * @error: (nullable): return location for a #GError
 *
 * Reconciles the database with a bulk registration: each line of a report
 * names a line of the parameter file by its offset; its certificate's row
 * becomes `done` with the ARN AWS gives, or `failed` with AWS's reason. Each
 * outcome is an audit event (`aws-bulk-register`) of the device.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_registration_import_results(const gchar *db_path,
                                const gchar *params_path,
                                const gchar *const *reports,
                                guint *n_registered,
                                guint *n_failed,
                                GError **error)
{
	g_autoptr(FstDbQueue) queue = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autofree gchar *params_text = NULL;
	g_auto(GStrv) params = NULL;
	g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);

	if (n_registered != NULL)
		*n_registered = 0;
	if (n_failed != NULL)
		*n_failed = 0;
	if (!g_file_get_contents(params_path, &params_text, NULL, error)) {
		fst_error_convert_gio(error);
		return FALSE;
	}
	/* the certificate of each parameter line, by offset */
	params = g_strsplit(params_text, "\n", -1);
	for (guint i = 0; params[i] != NULL && params[i][0] != '\0'; i++) {
		g_autoptr(JsonParser) parser = json_parser_new();
		JsonNode *root;
		const gchar *pem;
		gchar *id;

		if (!json_parser_load_from_data(parser, params[i], -1, error)) {
			g_prefix_error(error, "%s line %u: ", params_path, i + 1);
			return FALSE;
		}
		root = json_parser_get_root(parser);
		pem = JSON_NODE_HOLDS_OBJECT(root)
		          ? fst_json_get_string(json_node_get_object(root), "CertificatePem")
		          : NULL;
		if (pem == NULL) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "%s line %u has no CertificatePem",
			            params_path,
			            i + 1);
			return FALSE;
		}
		id = fst_aws_certificate_id_from_pem(pem, error);
		if (id == NULL) {
			g_prefix_error(error, "%s line %u: ", params_path, i + 1);
			return FALSE;
		}
		g_ptr_array_add(ids, id);
	}

	queue = fst_db_queue_open(db_path, error);
	if (queue == NULL)
		return FALSE;
	db = fst_db_open(db_path, error);
	if (db == NULL)
		return FALSE;
	for (guint r = 0; reports[r] != NULL; r++) {
		g_autofree gchar *text = NULL;
		g_auto(GStrv) lines = NULL;

		if (!g_file_get_contents(reports[r], &text, NULL, error)) {
			fst_error_convert_gio(error);
			return FALSE;
		}
		lines = g_strsplit(text, "\n", -1);
		for (guint i = 0; lines[i] != NULL; i++) {
			g_autoptr(JsonParser) parser = json_parser_new();
			g_autoptr(FstDbQueueItem) item = NULL;
			g_autofree gchar *detail = NULL;
			JsonObject *obj;
			JsonObject *resp;
			JsonObject *arns;
			const gchar *arn = NULL;
			gint64 offset;
			gint64 now = g_get_real_time();

			g_strstrip(lines[i]);
			if (lines[i][0] == '\0')
				continue;
			if (!json_parser_load_from_data(parser, lines[i], -1, error) ||
			    !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
				g_clear_error(error);
				g_set_error(error,
				            FST_ERROR,
				            FST_ERROR_INVALID_DATA,
				            "%s line %u is not a JSON object",
				            reports[r],
				            i + 1);
				return FALSE;
			}
			obj = fst_json_root_object(parser);
			offset = fst_json_get_int(obj, "offset", -1);
			if (offset < 0 || offset >= (gint64)ids->len) {
				g_set_error(error,
				            FST_ERROR,
				            FST_ERROR_INVALID_DATA,
				            "%s line %u: offset %" G_GINT64_FORMAT
				            " is not a line of %s (%u lines): give the parameter "
				            "file this task read",
				            reports[r],
				            i + 1,
				            offset,
				            params_path,
				            ids->len);
				return FALSE;
			}
			item = fst_db_queue_find_by_aws_id(
			    queue, g_ptr_array_index(ids, offset), error);
			if (item == NULL)
				return FALSE;
			resp = fst_json_get_object(obj, "response");
			arns = fst_json_get_object(resp, "ResourceArns");
			arn = fst_json_get_string(arns, "certificate");
			if (arn != NULL) {
				if (g_strcmp0(fst_registration_arn_id(arn), item->aws_cert_id) !=
				    0) {
					g_set_error(
					    error,
					    FST_ERROR,
					    FST_ERROR_VERIFY_FAILED,
					    "%s line %u: AWS registered %s for the certificate "
					    "with id %s",
					    reports[r],
					    i + 1,
					    arn,
					    item->aws_cert_id);
					return FALSE;
				}
				detail =
				    g_strdup_printf("certificate %s registered by bulk task as %s",
				                    item->serial_hex,
				                    arn);
				if (!fst_db_add_event(db,
				                      item->device_id,
				                      "aws-bulk-register",
				                      now,
				                      now,
				                      "ok",
				                      detail,
				                      error) ||
				    !fst_db_queue_finish(queue, item->id, arn, error))
					return FALSE;
				if (n_registered != NULL)
					(*n_registered)++;
			} else {
				const gchar *msg = fst_json_get_string(obj, "errorMessage");
				const gchar *code = fst_json_get_string(obj, "errorCode");
				detail = g_strdup_printf(
				    "AWS bulk registration refused certificate %s: %s%s%s",
				    item->serial_hex,
				    code != NULL ? code : "",
				    code != NULL ? ": " : "",
				    msg != NULL ? msg : "no reason given");
				if (!fst_db_add_event(db,
				                      item->device_id,
				                      "aws-bulk-register",
				                      now,
				                      now,
				                      "failed",
				                      detail,
				                      error) ||
				    !fst_db_queue_fail(queue, item->id, detail, error))
					return FALSE;
				if (n_failed != NULL)
					(*n_failed)++;
			}
		}
	}
	return TRUE;
}

static gchar *
fst_registration_x509_pem(X509 *x509, GError **error)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;
	if (bio == NULL || PEM_write_bio_X509(bio, x509) != 1) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "encoding a certificate");
		return NULL;
	}
	BIO_get_mem_ptr(bio, &mem);
	return g_strndup(mem->data, mem->length);
}

/**
 * fst_registration_register_ca:
 * @iot: the AWS IoT client
 * @ca_cert: the issuing CA certificate
 * @ca_key: its key, to sign the verification certificate
 * @registration_code: (nullable): the account's registration code; %NULL
 *   fetches it (GetRegistrationCode)
 * @sni_only: register the CA without proof of possession (SNI_ONLY mode,
 *   for a CA registered in several accounts); no code then
 * @jitp_template: (nullable): a just-in-time provisioning template body
 * @jitp_role_arn: (nullable): the role JITP runs as
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * Registers the issuing CA with AWS IoT (RegisterCACertificate, ACTIVE),
 * with a verification certificate made by the CA for the registration code.
 * A CA AWS has already is not an error (@already_registered is set).
 *
 * Returns: (transfer full): the CA as AWS knows it, or %NULL
 */
FstAwsCertificate *
fst_registration_register_ca(FstAwsIot *iot,
                             X509 *ca_cert,
                             EVP_PKEY *ca_key,
                             const gchar *registration_code,
                             gboolean sni_only,
                             const gchar *jitp_template,
                             const gchar *jitp_role_arn,
                             GCancellable *cancellable,
                             GError **error)
{
	g_autofree gchar *code = g_strdup(registration_code);
	g_autofree gchar *ca_pem = NULL;
	g_autofree gchar *verification_pem = NULL;

	g_return_val_if_fail(FST_IS_AWS_IOT(iot), NULL);
	ca_pem = fst_registration_x509_pem(ca_cert, error);
	if (ca_pem == NULL)
		return NULL;
	if (!sni_only) {
		g_autoptr(X509) verification = NULL;
		if (code == NULL) {
			code = fst_aws_iot_get_registration_code(iot, cancellable, error);
			if (code == NULL)
				return NULL;
		}
		verification = fst_ca_store_make_verification_cert(code, ca_cert, ca_key, error);
		if (verification == NULL)
			return NULL;
		verification_pem = fst_registration_x509_pem(verification, error);
		if (verification_pem == NULL)
			return NULL;
	}
	return fst_aws_iot_register_ca_certificate(
	    iot, ca_pem, verification_pem, TRUE, jitp_template, jitp_role_arn, cancellable, error);
}

/* waits @us; a cancel ends it early with %FST_ERROR_CANCELLED */
static gboolean
fst_registration_sleep(gint64 us, GCancellable *cancellable, GError **error)
{
	gint64 end = g_get_monotonic_time() + us;
	while (g_get_monotonic_time() < end) {
		if (g_cancellable_set_error_if_cancelled(cancellable, error)) {
			fst_error_convert_gio(error);
			return FALSE;
		}
		gint64 left = end - g_get_monotonic_time();
		if (left > 0)
			g_usleep(MIN(left, 20000));
	}
	return TRUE;
}

/**
 * fst_registration_bulk_register:
 * @db_path: the station database
 * @iot: the AWS IoT client
 * @lot: the lot
 * @thing_name_template: (nullable): as for fst_registration_export()
 * @policy_name: (nullable): the policy the template attaches
 * @out_dir: where the files and the downloaded reports go
 * @bucket: the S3 bucket for the parameter file
 * @role_arn: the role AWS IoT registers as (it reads the bucket)
 * @poll_us: how often to ask about the task
 * @n_registered: (out) (optional): certificates registered
 * @n_failed: (out) (optional): certificates AWS refused
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * AWS bulk registration of a lot: the files (fst_registration_export()), the
 * parameter file uploaded (S3 PutObject, key `fleetstation/LOT-params.jsonl`),
 * StartThingRegistrationTask, polled until it ends, then its result and error
 * reports downloaded next to the files and reconciled
 * (fst_registration_import_results()). The upload and the task are audit
 * events. If the task fails, the rows stay held: after the hold a worker
 * takes them, asking AWS first.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_registration_bulk_register(const gchar *db_path,
                               FstAwsIot *iot,
                               const gchar *lot,
                               const gchar *thing_name_template,
                               const gchar *policy_name,
                               const gchar *out_dir,
                               const gchar *bucket,
                               const gchar *role_arn,
                               gint64 poll_us,
                               guint *n_registered,
                               guint *n_failed,
                               GCancellable *cancellable,
                               GError **error)
{
	g_autofree gchar *params_path = g_strdup_printf("%s/%s-params.jsonl", out_dir, lot);
	g_autofree gchar *template_path = g_strdup_printf("%s/%s-template.json", out_dir, lot);
	g_autofree gchar *key = g_strdup_printf("fleetstation/%s-params.jsonl", lot);
	g_autofree gchar *params = NULL;
	g_autofree gchar *template_body = NULL;
	g_autofree gchar *task = NULL;
	g_autofree gchar *status = NULL;
	g_autofree gchar *detail = NULL;
	g_autoptr(GBytes) data = NULL;
	g_autoptr(GPtrArray) reports = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(FstDb) db = NULL;
	const gchar *kinds[] = {"RESULTS", "ERRORS"};
	gsize params_len = 0;
	guint n = 0;
	gint64 started;

	g_return_val_if_fail(FST_IS_AWS_IOT(iot), FALSE);
	if (!fst_registration_export(db_path,
	                             lot,
	                             thing_name_template,
	                             policy_name,
	                             out_dir,
	                             (gint64)72 * 3600 * G_USEC_PER_SEC,
	                             &n,
	                             error))
		return FALSE;
	if (!g_file_get_contents(params_path, &params, &params_len, error) ||
	    !g_file_get_contents(template_path, &template_body, NULL, error)) {
		fst_error_convert_gio(error);
		return FALSE;
	}
	db = fst_db_open(db_path, error);
	if (db == NULL)
		return FALSE;

	started = g_get_real_time();
	data = g_bytes_new_take(g_steal_pointer(&params), params_len);
	if (!fst_aws_iot_s3_put_object(iot, bucket, key, data, cancellable, error))
		return FALSE;
	detail =
	    g_strdup_printf("lot %s: %u certificates uploaded to s3://%s/%s", lot, n, bucket, key);
	if (!fst_db_add_event(
	        db, 0, "aws-s3-put-object", started, g_get_real_time(), "ok", detail, error))
		return FALSE;
	started = g_get_real_time();
	task = fst_aws_iot_start_thing_registration_task(
	    iot, template_body, bucket, key, role_arn, cancellable, error);
	if (task == NULL)
		return FALSE;
	g_free(detail);
	detail = g_strdup_printf("lot %s: bulk registration task %s started", lot, task);
	if (!fst_db_add_event(db,
	                      0,
	                      "aws-start-thing-registration-task",
	                      started,
	                      g_get_real_time(),
	                      "ok",
	                      detail,
	                      error))
		return FALSE;

	/* poll */
	while (TRUE) {
		g_autofree gchar *message = NULL;
		g_free(status);
		status = fst_aws_iot_describe_thing_registration_task(
		    iot, task, NULL, NULL, &message, cancellable, error);
		if (status == NULL)
			return FALSE;
		if (g_strcmp0(status, "Completed") == 0)
			break;
		if (g_strcmp0(status, "InProgress") != 0 && g_strcmp0(status, "Cancelling") != 0) {
			g_set_error(
			    error,
			    FST_ERROR,
			    FST_ERROR_INVALID_DATA,
			    "AWS bulk registration task %s ended %s: %s; its certificates are "
			    "registered one by one once their hold ends",
			    task,
			    status,
			    message != NULL ? message : "no message");
			return FALSE;
		}
		if (!fst_registration_sleep(poll_us, cancellable, error))
			return FALSE;
	}

	/* reports, kept next to the files, then reconciled */
	for (guint k = 0; k < G_N_ELEMENTS(kinds); k++) {
		g_autoptr(GPtrArray) links = fst_aws_iot_list_thing_registration_task_reports(
		    iot, task, kinds[k], cancellable, error);
		if (links == NULL)
			return FALSE;
		for (guint i = 0; i < links->len; i++) {
			g_autoptr(GBytes) report = fst_aws_iot_fetch_url(
			    iot, g_ptr_array_index(links, i), cancellable, error);
			g_autofree gchar *path = NULL;
			if (report == NULL)
				return FALSE;
			path = g_strdup_printf(
			    "%s/%s-%s-%s-%u.jsonl", out_dir, lot, task, kinds[k], i);
			if (!g_file_set_contents(path,
			                         g_bytes_get_data(report, NULL),
			                         (gssize)g_bytes_get_size(report),
			                         error)) {
				fst_error_convert_gio(error);
				return FALSE;
			}
			g_ptr_array_add(reports, g_steal_pointer(&path));
		}
	}
	g_ptr_array_add(reports, NULL);
	return fst_registration_import_results(db_path,
	                                       params_path,
	                                       (const gchar *const *)reports->pdata,
	                                       n_registered,
	                                       n_failed,
	                                       error);
}
