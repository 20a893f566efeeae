/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The database against AWS IoT: what an auditor asks of the registration
 * queue once it says "done". Three things can differ:
 *
 *  - unrecorded: AWS holds a certificate signed by one of the station's CAs
 *    (ListCertificatesByCA) that the database does not record. Write-ahead
 *    issuance means the station never makes one; such a certificate was
 *    signed elsewhere with the CA's key, or registered from another
 *    station's database. ACTIVE, it can connect today.
 *  - missing: the database says AWS registered a certificate still in
 *    service, and AWS does not have it: it was deleted there, and the
 *    device cannot connect.
 *  - revoked-active: revoked in the database, ACTIVE at AWS: the revocation
 *    has not reached AWS (its queue row waits or failed), or was undone
 *    there.
 *
 * Every certificate of the account and region is listed (ListCertificates)
 * and matched by id, since one registered without its CA (`with-ca=false`,
 * or one AWS issued) is under no CA at AWS; the unrecorded ones are looked
 * for among those AWS lists by CA (ListCertificatesByCA) for each of the
 * station's CAs it has registered. An unrecorded INACTIVE certificate under
 * no CA is read (DescribeCertificate, FST_AWS_RECONCILE_MAX_READ of them at
 * most) and reported when its key is a recorded device's: what a station
 * stopped between AWS making a certificate (`issuer=aws`) and its record
 * leaves behind. Other unrecorded certificates under no CA cannot be told
 * from the account's others, and are not reported.
 *
 * Nothing is changed at AWS or in the records: what to do is the operator's
 * call, and each finding says what it would be. The comparison itself is
 * an audit event of the station (`aws-reconcile`, outcome `ok` or
 * `differs`, the counts in its detail), so that the audit trail shows when
 * AWS was last checked and what was found.
 *
 * One kind of finding needs no judgement: an INACTIVE certificate AWS made
 * for a recorded device's key, in no record. Nothing can connect with it,
 * and the device has the certificate its record names.
 * fst_aws_reconcile_delete_leftovers() deletes those at AWS when asked,
 * if made long enough ago that no run still at work (this station's or
 * another's, between AWS making a certificate and recording it) can be its
 * maker; each deletion is an audit event of the device
 * (`aws-delete-certificate`).
 */

#define G_LOG_DOMAIN "FstAwsReconcile"

#include "fst-aws-reconcile.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

#include "fst-ca-store.h"
#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-time.h"
#include "fst-x509.h"

/* unrecorded INACTIVE certificates under no CA read to find their key */
#define FST_AWS_RECONCILE_MAX_READ 500

typedef struct {
	gchar *serial_hex;
	gchar *device_uid;
	gchar *state;
	gchar *issuer_sha256;
	gchar *registered;
	gchar *deactivated;
	gchar *revoked;
	gboolean seen;
} FstAwsRecorded;

static void
fst_aws_recorded_free(FstAwsRecorded *self)
{
	g_free(self->serial_hex);
	g_free(self->device_uid);
	g_free(self->state);
	g_free(self->issuer_sha256);
	g_free(self->registered);
	g_free(self->deactivated);
	g_free(self->revoked);
	g_free(self);
}

/**
 * fst_aws_finding_free:
 * @self: (nullable): an #FstAwsFinding
 */
void
fst_aws_finding_free(FstAwsFinding *self)
{
	if (self == NULL)
		return;
	g_free(self->aws_cert_id);
	g_free(self->ca_sha256);
	g_free(self->aws_status);
	g_free(self->serial_hex);
	g_free(self->device_uid);
	g_free(self->state);
	g_free(self->advice);
	g_free(self);
}

/**
 * fst_aws_finding_kind_to_string:
 * @kind: an #FstAwsFindingKind
 *
 * Returns: its name in reports: "unrecorded", "missing", "revoked-active"
 */
const gchar *
fst_aws_finding_kind_to_string(FstAwsFindingKind kind)
{
	switch (kind) {
	case FST_AWS_FINDING_UNRECORDED:
		return "unrecorded";
	case FST_AWS_FINDING_MISSING:
		return "missing";
	case FST_AWS_FINDING_REVOKED_ACTIVE:
		return "revoked-active";
	default:
		return "unknown";
	}
}

/**
 * fst_aws_reconcile_free:
 * @self: (nullable): an #FstAwsReconcile
 */
void
fst_aws_reconcile_free(FstAwsReconcile *self)
{
	if (self == NULL)
		return;
	g_free(self->target);
	g_clear_pointer(&self->cas, g_ptr_array_unref);
	g_clear_pointer(&self->cas_unknown, g_ptr_array_unref);
	g_clear_pointer(&self->findings, g_ptr_array_unref);
	g_free(self);
}

typedef struct {
	GHashTable *recorded; /* aws_cert_id -> FstAwsRecorded */
	GHashTable *cas;      /* CA SHA-256 set */
} FstAwsReconcileWalk;

static gboolean
fst_aws_reconcile_record_cb(const FstDbAwsRecord *record, gpointer user_data)
{
	FstAwsReconcileWalk *walk = user_data;
	FstAwsRecorded *r = g_new0(FstAwsRecorded, 1);

	r->serial_hex = g_strdup(record->serial_hex);
	r->device_uid = g_strdup(record->device_uid);
	r->state = g_strdup(record->state);
	r->issuer_sha256 =
	    g_ascii_strdown(record->issuer_sha256 != NULL ? record->issuer_sha256 : "", -1);
	if (*r->issuer_sha256 == '\0')
		g_clear_pointer(&r->issuer_sha256, g_free);
	else
		g_hash_table_add(walk->cas, g_strdup(r->issuer_sha256));
	r->registered = g_strdup(record->registered);
	r->deactivated = g_strdup(record->deactivated);
	r->revoked = g_strdup(record->revoked);
	g_hash_table_insert(walk->recorded, g_ascii_strdown(record->aws_cert_id, -1), r);
	return TRUE;
}

static FstAwsFinding *
fst_aws_finding_new(FstAwsFindingKind kind,
                    const gchar *aws_cert_id,
                    const FstAwsRecorded *r,
                    const gchar *ca_sha256,
                    const gchar *aws_status)
{
	FstAwsFinding *f = g_new0(FstAwsFinding, 1);

	f->kind = kind;
	f->aws_cert_id = g_strdup(aws_cert_id);
	f->ca_sha256 = g_strdup(r != NULL ? r->issuer_sha256 : ca_sha256);
	f->aws_status = g_strdup(aws_status);
	if (r != NULL) {
		f->serial_hex = g_strdup(r->serial_hex);
		f->device_uid = g_strdup(r->device_uid);
		f->state = g_strdup(r->state);
	}
	return f;
}

/* a certificate of one of the station's CAs, listed by AWS under @ca_sha256,
 * that no record explains */
static void
fst_aws_reconcile_by_ca(FstAwsReconcile *self,
                        GHashTable *recorded,
                        GHashTable *reported,
                        const FstAwsCertificate *c,
                        const gchar *ca_sha256)
{
	g_autofree gchar *id = g_ascii_strdown(c->certificate_id, -1);
	gboolean active = g_strcmp0(c->status, "ACTIVE") == 0;
	FstAwsFinding *f;

	if (g_hash_table_contains(recorded, id) || !g_hash_table_add(reported, g_strdup(id)))
		return;
	f = fst_aws_finding_new(FST_AWS_FINDING_UNRECORDED, id, NULL, ca_sha256, c->status);
	f->advice = g_strdup(
	    active ? "signed by the station's CA, ACTIVE, and in no record: the station never "
	             "issued it; find who signed it (the CA key may be used elsewhere) and set "
	             "it INACTIVE at AWS until it is explained"
	           : "signed by the station's CA and in no record, not in service at AWS: find "
	             "who signed it, then delete it at AWS");
	g_ptr_array_add(self->findings, f);
}

/* a certificate of the account, against the record of it (if any); an
 * unrecorded INACTIVE one goes to @candidates, to be read for its key */
static void
fst_aws_reconcile_one(FstAwsReconcile *self,
                      GHashTable *recorded,
                      GPtrArray *candidates,
                      const FstAwsCertificate *c)
{
	g_autofree gchar *id = g_ascii_strdown(c->certificate_id, -1);
	FstAwsRecorded *r = g_hash_table_lookup(recorded, id);
	FstAwsFinding *f;

	if (r == NULL && g_strcmp0(c->status, "INACTIVE") == 0)
		g_ptr_array_add(candidates, g_strdup(id));
	if (r == NULL || r->seen)
		return;
	r->seen = TRUE;
	self->matched++;
	if (g_strcmp0(r->state, "revoked") != 0 || g_strcmp0(c->status, "ACTIVE") != 0)
		return;
	f = fst_aws_finding_new(FST_AWS_FINDING_REVOKED_ACTIVE, id, r, NULL, c->status);
	if (r->revoked == NULL)
		f->advice = g_strdup("revoked in the database with no revocation queued for this "
		                     "target: revoke it at AWS (aws iot update-certificate "
		                     "--new-status REVOKED)");
	else if (g_strcmp0(r->revoked, "done") == 0)
		f->advice =
		    g_strdup("its revocation was done at AWS, and it is ACTIVE again: it was "
		             "changed there; revoke it again and find out who");
	else
		f->advice = g_strdup_printf(
		    "its revocation has not reached AWS (queue row %s): run `fleetstation register "
		    "%s`",
		    r->revoked,
		    g_strcmp0(r->revoked, "failed") == 0 ? "retry` then `register push" : "push");
	g_ptr_array_add(self->findings, f);
}

/* the device whose key the certificate in @pem is for, if one is recorded */
static gchar *
fst_aws_reconcile_key_holder(FstDb *db, const gchar *pem, GError **error)
{
	g_autoptr(BIO) in = pem != NULL ? BIO_new_mem_buf(pem, -1) : NULL;
	g_autoptr(X509) x509 = in != NULL ? PEM_read_bio_X509(in, NULL, NULL, NULL) : NULL;
	g_autoptr(GBytes) spki = x509 != NULL ? fst_x509_get_spki(x509) : NULL;

	if (spki == NULL) {
		ERR_clear_error();
		return NULL;
	}
	return fst_db_get_key_holder(
	    db, g_bytes_get_data(spki, NULL), g_bytes_get_size(spki), error);
}

/* the unrecorded INACTIVE certificates under no CA of the station's: each
 * one made for a recorded device's key is a finding */
static gboolean
fst_aws_reconcile_candidates(FstAwsReconcile *self,
                             FstAwsIot *iot,
                             FstDb *db,
                             GPtrArray *candidates,
                             GHashTable *reported,
                             GCancellable *cancellable,
                             GError **error)
{
	for (guint i = 0; i < candidates->len; i++) {
		const gchar *id = g_ptr_array_index(candidates, i);
		g_autoptr(FstAwsCertificate) full = NULL;
		g_autoptr(GError) error_local = NULL;
		g_autofree gchar *holder = NULL;
		FstAwsFinding *f;

		if (g_hash_table_contains(reported, id))
			continue;
		if (self->read >= FST_AWS_RECONCILE_MAX_READ) {
			self->unread++;
			continue;
		}
		self->read++;
		full = fst_aws_iot_describe_certificate(iot, id, cancellable, &error_local);
		/* deleted meanwhile */
		if (full == NULL && g_error_matches(error_local, FST_ERROR, FST_ERROR_NOT_FOUND))
			continue;
		if (full == NULL) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
		holder = fst_aws_reconcile_key_holder(db, full->certificate_pem, &error_local);
		if (error_local != NULL) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
		if (holder == NULL)
			continue;
		f = fst_aws_finding_new(FST_AWS_FINDING_UNRECORDED, id, NULL, NULL, full->status);
		f->device_uid = g_steal_pointer(&holder);
		f->created_us = full->created;
		f->advice = g_strdup("made at AWS for this device's key, INACTIVE, and in no "
		                     "record: left by a run stopped between AWS making it "
		                     "(issuer=aws) and its record; nothing can connect with it: "
		                     "delete it at AWS");
		g_ptr_array_add(self->findings, f);
	}
	return TRUE;
}

/* the CAs AWS has registered (ListCACertificates), by lower-case id */
static GHashTable *
fst_aws_reconcile_registered_cas(FstAwsIot *iot, GCancellable *cancellable, GError **error)
{
	g_autoptr(GPtrArray) listed = fst_aws_iot_list_ca_certificates(iot, cancellable, error);
	GHashTable *ids;

	if (listed == NULL)
		return NULL;
	ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (guint i = 0; i < listed->len; i++) {
		FstAwsCertificate *ca = g_ptr_array_index(listed, i);
		if (ca->certificate_id != NULL)
			g_hash_table_add(ids, g_ascii_strdown(ca->certificate_id, -1));
	}
	return ids;
}

static gint
fst_aws_finding_rank(const FstAwsFinding *f)
{
	switch (f->kind) {
	case FST_AWS_FINDING_REVOKED_ACTIVE:
		return 0;
	case FST_AWS_FINDING_UNRECORDED:
		return g_strcmp0(f->aws_status, "ACTIVE") == 0 ? 1 : 3;
	case FST_AWS_FINDING_MISSING:
		return 2;
	default:
		return 4;
	}
}

static gint
fst_aws_finding_compare(gconstpointer a, gconstpointer b)
{
	const FstAwsFinding *fa = *(FstAwsFinding *const *)a;
	const FstAwsFinding *fb = *(FstAwsFinding *const *)b;
	gint d = fst_aws_finding_rank(fa) - fst_aws_finding_rank(fb);
	return d != 0 ? d : strcmp(fa->aws_cert_id, fb->aws_cert_id);
}

static gint
fst_aws_reconcile_str_compare(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const gchar *const *)a, *(const gchar *const *)b);
}

/* the comparison as an audit event of the station */
static gboolean
fst_aws_reconcile_record(const FstAwsReconcile *self, FstDb *db, gint64 started_us, GError **error)
{
	g_autoptr(GString) detail = g_string_new(NULL);
	guint counts[FST_AWS_FINDING_REVOKED_ACTIVE + 1] = {0};
	guint unrecorded_active = 0;

	for (guint i = 0; i < self->findings->len; i++) {
		const FstAwsFinding *f = g_ptr_array_index(self->findings, i);
		counts[f->kind]++;
		if (f->kind == FST_AWS_FINDING_UNRECORDED &&
		    g_strcmp0(f->aws_status, "ACTIVE") == 0)
			unrecorded_active++;
	}
	g_string_printf(detail,
	                "%s: %u recorded, %u at AWS, %u in both; %u revoked-active, %u "
	                "unrecorded (%u ACTIVE), %u missing; CAs not registered at AWS: %u of %u; "
	                "INACTIVE certificates under no CA read: %u, not read: %u",
	                self->target,
	                self->recorded,
	                self->listed,
	                self->matched,
	                counts[FST_AWS_FINDING_REVOKED_ACTIVE],
	                counts[FST_AWS_FINDING_UNRECORDED],
	                unrecorded_active,
	                counts[FST_AWS_FINDING_MISSING],
	                self->cas_unknown->len,
	                self->cas->len,
	                self->read,
	                self->unread);
	return fst_db_add_event(db,
	                        0,
	                        "aws-reconcile",
	                        started_us,
	                        g_get_real_time(),
	                        self->findings->len > 0 ? "differs" : "ok",
	                        detail->str,
	                        error);
}

/**
 * fst_aws_reconcile:
 * @iot: a client for the account and region to compare with
 * @db: the station's database
 * @workspace: (nullable): the workspace, whose CAs (which may have signed
 *   nothing recorded yet) AWS is asked for too; the CAs of the recorded
 *   certificates are always asked for
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * Compares what AWS IoT holds with what the database records (see the top
 * of this file), changing nothing but adding the comparison's audit event
 * (`aws-reconcile`). AWS is read with ListCertificates,
 * ListCACertificates, ListCertificatesByCA for each of the CAs it has
 * registered, and DescribeCertificate for unrecorded INACTIVE certificates
 * under no CA of the station's.
 *
 * Returns: (transfer full): the comparison, or %NULL with the error of the
 *   database or of AWS
 */
FstAwsReconcile *
fst_aws_reconcile(
    FstAwsIot *iot, FstDb *db, const gchar *workspace, GCancellable *cancellable, GError **error)
{
	g_autofree gchar *ca_dir =
	    workspace != NULL ? g_build_filename(workspace, "ca", NULL) : NULL;
	g_autoptr(GPtrArray) ca_infos = ca_dir != NULL ? fst_ca_store_list(ca_dir, NULL) : NULL;
	g_autoptr(FstAwsReconcile) self = g_new0(FstAwsReconcile, 1);
	g_autoptr(GHashTable) recorded = g_hash_table_new_full(
	    g_str_hash, g_str_equal, g_free, (GDestroyNotify)fst_aws_recorded_free);
	g_autoptr(GHashTable) cas = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GHashTable) registered = NULL;
	g_autoptr(GHashTable) reported =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GPtrArray) candidates = g_ptr_array_new_with_free_func(g_free);
	FstAwsReconcileWalk walk = {.recorded = recorded, .cas = cas};
	GHashTableIter iter;
	gpointer key, value;
	gint64 started_us;

	g_return_val_if_fail(FST_IS_AWS_IOT(iot), NULL);
	g_return_val_if_fail(db != NULL, NULL);

	started_us = g_get_real_time();
	self->target = fst_aws_iot_target(fst_aws_iot_get_region(iot));
	self->cas = g_ptr_array_new_with_free_func(g_free);
	self->cas_unknown = g_ptr_array_new_with_free_func(g_free);
	self->findings = g_ptr_array_new_with_free_func((GDestroyNotify)fst_aws_finding_free);

	if (!fst_db_foreach_aws_record(db, self->target, fst_aws_reconcile_record_cb, &walk, error))
		return NULL;
	self->recorded = g_hash_table_size(recorded);
	for (guint i = 0; ca_infos != NULL && i < ca_infos->len; i++) {
		FstCaInfo *info = g_ptr_array_index(ca_infos, i);
		if (info->sha256 != NULL)
			g_hash_table_add(cas, g_ascii_strdown(info->sha256, -1));
	}
	g_hash_table_iter_init(&iter, cas);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_ptr_array_add(self->cas, g_strdup(key));
	g_ptr_array_sort(self->cas, fst_aws_reconcile_str_compare);

	/* every certificate of the account, matched by id */
	{
		g_autoptr(GPtrArray) listed =
		    fst_aws_iot_list_certificates(iot, NULL, cancellable, error);
		if (listed == NULL)
			return NULL;
		for (guint j = 0; j < listed->len; j++) {
			FstAwsCertificate *c = g_ptr_array_index(listed, j);
			if (c->certificate_id == NULL)
				continue;
			self->listed++;
			fst_aws_reconcile_one(self, recorded, candidates, c);
		}
	}
	/* the unrecorded ones among those of the station's CAs */
	if (self->cas->len > 0) {
		registered = fst_aws_reconcile_registered_cas(iot, cancellable, error);
		if (registered == NULL)
			return NULL;
	}
	for (guint i = 0; i < self->cas->len; i++) {
		const gchar *ca = g_ptr_array_index(self->cas, i);
		g_autoptr(GPtrArray) listed = NULL;

		if (!g_hash_table_contains(registered, ca)) {
			g_ptr_array_add(self->cas_unknown, g_strdup(ca));
			continue;
		}
		listed = fst_aws_iot_list_certificates(iot, ca, cancellable, error);
		if (listed == NULL)
			return NULL;
		for (guint j = 0; j < listed->len; j++) {
			FstAwsCertificate *c = g_ptr_array_index(listed, j);
			if (c->certificate_id != NULL)
				fst_aws_reconcile_by_ca(self, recorded, reported, c, ca);
		}
	}
	if (!fst_aws_reconcile_candidates(self, iot, db, candidates, reported, cancellable, error))
		return NULL;

	/* registered, in service, and gone from AWS */
	g_hash_table_iter_init(&iter, recorded);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		FstAwsRecorded *r = value;
		FstAwsFinding *f;

		if (r->seen || g_strcmp0(r->registered, "done") != 0 ||
		    g_strcmp0(r->state, "revoked") == 0 || g_strcmp0(r->state, "superseded") == 0 ||
		    g_strcmp0(r->deactivated, "done") == 0)
			continue;
		f = fst_aws_finding_new(FST_AWS_FINDING_MISSING, key, r, NULL, NULL);
		f->advice =
		    g_strdup("registered at AWS by the queue, in service, and AWS does not "
		             "have it: it was deleted there (CloudTrail names who), and the "
		             "device cannot connect; register it again or re-provision the "
		             "device");
		g_ptr_array_add(self->findings, f);
	}
	g_ptr_array_sort(self->findings, fst_aws_finding_compare);
	if (!fst_aws_reconcile_record(self, db, started_us, error))
		return NULL;
	return g_steal_pointer(&self);
}

/**
 * fst_aws_reconcile_delete_leftovers:
 * @self: a comparison from fst_aws_reconcile()
 * @iot: the client it was made with
 * @db: the station's database
 * @min_age_us: only certificates AWS made at least this long ago
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * Deletes at AWS (DeleteCertificate) the findings that are INACTIVE
 * certificates AWS made for a recorded device's key and that no record
 * names (see the top of this file), made at least @min_age_us ago, and sets
 * their @deleted. One already gone at AWS counts as deleted. Each deletion
 * is an audit event of the device (`aws-delete-certificate`), written as
 * soon as AWS answers. Certificates of the station's CAs that no record
 * explains are never deleted: someone must find who signed them.
 *
 * Returns: %TRUE when every such finding old enough was deleted; %FALSE
 *   with the error of AWS or of the database (those deleted before are
 *   marked and recorded)
 */
gboolean
fst_aws_reconcile_delete_leftovers(FstAwsReconcile *self,
                                   FstAwsIot *iot,
                                   FstDb *db,
                                   gint64 min_age_us,
                                   GCancellable *cancellable,
                                   GError **error)
{
	gint64 now = g_get_real_time();

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(FST_IS_AWS_IOT(iot), FALSE);

	for (guint i = 0; i < self->findings->len; i++) {
		FstAwsFinding *f = g_ptr_array_index(self->findings, i);
		g_autoptr(GError) error_local = NULL;
		g_autoptr(FstDbDevice) device = NULL;
		g_autofree gchar *detail = NULL;
		g_autofree gchar *made = NULL;
		gint64 started = g_get_real_time();

		if (f->kind != FST_AWS_FINDING_UNRECORDED || f->device_uid == NULL ||
		    g_strcmp0(f->aws_status, "INACTIVE") != 0 || f->deleted || f->created_us <= 0 ||
		    now - f->created_us < min_age_us)
			continue;
		if (!fst_aws_iot_delete_certificate(
		        iot, f->aws_cert_id, cancellable, &error_local) &&
		    !g_error_matches(error_local, FST_ERROR, FST_ERROR_NOT_FOUND)) {
			g_propagate_prefixed_error(
			    error,
			    g_steal_pointer(&error_local),
			    "certificate %s, made at AWS for device %s's key "
			    "and in no record, not deleted: ",
			    f->aws_cert_id,
			    f->device_uid);
			return FALSE;
		}
		f->deleted = TRUE;
		device = fst_db_find_device(db, f->device_uid, error);
		if (device == NULL)
			return FALSE;
		made = fst_time_iso(f->created_us);
		detail = g_strdup_printf("certificate %s (%s), made at AWS on %s for the "
		                         "device's key by a run stopped before its record, "
		                         "INACTIVE, deleted at AWS%s",
		                         f->aws_cert_id,
		                         self->target,
		                         made,
		                         error_local != NULL ? " (it was gone already)" : "");
		if (!fst_db_add_event(db,
		                      device->id,
		                      "aws-delete-certificate",
		                      started,
		                      g_get_real_time(),
		                      "ok",
		                      detail,
		                      error))
			return FALSE;
	}
	return TRUE;
}
