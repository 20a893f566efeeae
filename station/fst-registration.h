/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "fst-aws-iot.h"
#include "fst-central.h"

G_BEGIN_DECLS

#define FST_TYPE_REGISTRATION (fst_registration_get_type())
G_DECLARE_FINAL_TYPE(FstRegistration, fst_registration, FST, REGISTRATION, GObject)

/**
 * FstRegistrationOverride:
 * @FST_REGISTRATION_OVERRIDE_THING_NAME: the thing-name template
 * @FST_REGISTRATION_OVERRIDE_POLICY: the policy name and document
 * @FST_REGISTRATION_OVERRIDE_WITH_CA: with or without the CA
 * @FST_REGISTRATION_OVERRIDE_STATUS: ACTIVE or INACTIVE
 *
 * The settings of an #FstRegistrationConfig that win over the profile of a
 * certificate.
 */
typedef enum {
	FST_REGISTRATION_OVERRIDE_THING_NAME = 1 << 0,
	FST_REGISTRATION_OVERRIDE_POLICY = 1 << 1,
	FST_REGISTRATION_OVERRIDE_WITH_CA = 1 << 2,
	FST_REGISTRATION_OVERRIDE_STATUS = 1 << 3,
} FstRegistrationOverride;

/**
 * FstRegistrationConfig:
 * @thing_name_template: the thing's name: `{uid}`, `{serial}`, `{aws_cert_id}`
 *   and `{lot}` are replaced (default `{uid}`)
 * @policy_name: (nullable): the policy to attach to each certificate
 * @policy_document: (nullable): the policy's JSON, created once if AWS does
 *   not have it; %NULL: the policy must exist
 * @with_ca: RegisterCertificate with the issuing CA (which must be
 *   registered with AWS IoT), else RegisterCertificateWithoutCA
 * @ca_pems: (nullable) (element-type utf8 utf8): issuer SHA-256 -> CA PEM,
 *   for @with_ca
 * @inactive: register certificates INACTIVE (default ACTIVE)
 * @max_attempts: tries of a row before it is `failed` (default 10)
 * @lease_us: how long a taken row is this worker's (default 60 s)
 * @poll_us: how often a started worker looks at an empty queue (default 1 s)
 * @profiles: (nullable) (element-type utf8 FstProfile): profile name ->
 *   profile (kept alive by the caller): a certificate issued with one of
 *   these gets the thing name, policy, with-ca and status of its profile's
 *   `[aws]` group instead of the settings above, except those @overrides names
 * @overrides: #FstRegistrationOverride flags: the settings above that win
 *   over the certificate's profile (options given on the command line)
 *
 * What the registration worker does with each certificate.
 */
typedef struct {
	const gchar *thing_name_template;
	const gchar *policy_name;
	const gchar *policy_document;
	gboolean with_ca;
	GHashTable *ca_pems;
	gboolean inactive;
	guint max_attempts;
	gint64 lease_us;
	gint64 poll_us;
	GHashTable *profiles;
	guint overrides;
} FstRegistrationConfig;

/**
 * FstRegistrationStats:
 * @registered: certificates registered (thing and policy attached)
 * @found: of those, certificates AWS had already (a run stopped in the middle)
 * @deactivated: superseded certificates deactivated
 * @revoked: revoked certificates revoked at AWS
 * @deferred: tries put back for later (throttling, network)
 * @failed: rows marked failed
 *
 * What a worker has done since it was made.
 */
typedef struct {
	guint registered;
	guint found;
	guint deactivated;
	guint revoked;
	guint deferred;
	guint failed;
} FstRegistrationStats;

FstRegistration *fst_registration_new(const gchar *db_path,
                                      FstAwsIot *iot,
                                      const FstRegistrationConfig *config,
                                      GError **error);
FstRegistration *fst_registration_new_central(const gchar *db_path,
                                              FstCentral *central,
                                              const gchar *registrar,
                                              FstAwsIot *iot,
                                              const FstRegistrationConfig *config,
                                              GError **error);
gboolean fst_registration_process_one(FstRegistration *self,
                                      gboolean *did_one,
                                      GCancellable *cancellable,
                                      GError **error);
gboolean fst_registration_push(FstRegistration *self, GCancellable *cancellable, GError **error);
gboolean fst_registration_start(FstRegistration *self, GError **error);
void fst_registration_stop(FstRegistration *self);
void fst_registration_get_stats(FstRegistration *self, FstRegistrationStats *stats);
gchar *fst_registration_thing_name(const gchar *template_str,
                                   const gchar *uid,
                                   const gchar *serial,
                                   const gchar *aws_cert_id,
                                   const gchar *lot);

gboolean fst_registration_export(const gchar *db_path,
                                 const gchar *lot,
                                 const gchar *thing_name_template,
                                 const gchar *policy_name,
                                 const gchar *out_dir,
                                 gint64 hold_us,
                                 guint *n_exported,
                                 GError **error);
gboolean fst_registration_import_results(const gchar *db_path,
                                         const gchar *params_path,
                                         const gchar *const *reports,
                                         guint *n_registered,
                                         guint *n_failed,
                                         GError **error);

gboolean fst_registration_bulk_register(const gchar *db_path,
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
                                        GError **error);
FstAwsCertificate *fst_registration_register_ca(FstAwsIot *iot,
                                                X509 *ca_cert,
                                                EVP_PKEY *ca_key,
                                                const gchar *registration_code,
                                                gboolean sni_only,
                                                const gchar *jitp_template,
                                                const gchar *jitp_role_arn,
                                                GCancellable *cancellable,
                                                GError **error);

G_END_DECLS
