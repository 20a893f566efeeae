/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "fst-device.h"
#include "fst-trust.h"

G_BEGIN_DECLS

/**
 * FstKeySource:
 * @FST_KEY_SOURCE_DEVICE_CSR: the device generates its key and sends a CSR
 * @FST_KEY_SOURCE_DEVICE_PUBLIC_KEY: the device generates its key and sends
 *   the public key with a signature over a station challenge
 * @FST_KEY_SOURCE_STATION_GENERATED: the station generates the key and hands
 *   it to the device (key injection)
 *
 * Where the device key comes from.
 */
typedef enum {
	FST_KEY_SOURCE_DEVICE_CSR,
	FST_KEY_SOURCE_DEVICE_PUBLIC_KEY,
	FST_KEY_SOURCE_STATION_GENERATED,
} FstKeySource;

/**
 * FstProfileIssuer:
 * @FST_PROFILE_ISSUER_STATION: the station's issuing CA signs (default)
 * @FST_PROFILE_ISSUER_AWS: AWS IoT issues the certificate: for the device's
 *   CSR (CreateCertificateFromCsr), or with a key pair AWS makes and the
 *   station injects (CreateKeysAndCertificate); the station must be online
 *
 * Who signs the device certificates (`[profile] issuer`).
 */
typedef enum {
	FST_PROFILE_ISSUER_STATION,
	FST_PROFILE_ISSUER_AWS,
} FstProfileIssuer;

/**
 * FstProfileDigest:
 * @FST_PROFILE_DIGEST_AUTO: the CA key decides: SHA-256, SHA-384 for P-384,
 *   SHA-512 for P-521
 *
 * The digest of the certificate signature.
 */
typedef enum {
	FST_PROFILE_DIGEST_AUTO,
	FST_PROFILE_DIGEST_SHA256,
	FST_PROFILE_DIGEST_SHA384,
	FST_PROFILE_DIGEST_SHA512,
} FstProfileDigest;

/**
 * FstProfileKeyUsage:
 *
 * keyUsage bits of a device certificate, as in RFC 5280 (bit 0 is
 * digitalSignature); %FST_PROFILE_KEY_USAGE_DEFAULT means digitalSignature,
 * plus keyEncipherment for an RSA device key.
 */
typedef enum {
	FST_PROFILE_KEY_USAGE_DEFAULT = 0,
	FST_PROFILE_KEY_USAGE_DIGITAL_SIGNATURE = 1 << 0,
	FST_PROFILE_KEY_USAGE_KEY_ENCIPHERMENT = 1 << 2,
	FST_PROFILE_KEY_USAGE_KEY_AGREEMENT = 1 << 4,
} FstProfileKeyUsage;

/**
 * FstProfileExtKeyUsage:
 *
 * extendedKeyUsage purposes of a device certificate.
 */
typedef enum {
	FST_PROFILE_EXT_KEY_USAGE_NONE = 0,
	FST_PROFILE_EXT_KEY_USAGE_CLIENT_AUTH = 1 << 0,
	FST_PROFILE_EXT_KEY_USAGE_SERVER_AUTH = 1 << 1,
} FstProfileExtKeyUsage;

/**
 * FstProfileFormat:
 * @FST_PROFILE_FORMAT_DEVICE: as the device asks when identified
 *
 * How certificates are written to the device.
 */
typedef enum {
	FST_PROFILE_FORMAT_DEVICE,
	FST_PROFILE_FORMAT_PEM,
	FST_PROFILE_FORMAT_DER,
} FstProfileFormat;

/**
 * FstProfileVerify:
 * @FST_PROFILE_VERIFY_AUTO: the device's digest where it has one, else read back
 * @FST_PROFILE_VERIFY_DIGEST: the device hashes what it stores; a device
 *   that cannot is refused
 * @FST_PROFILE_VERIFY_READBACK: every burned object is read back over the wire
 *
 * How the pipeline checks what a device stored (`[burn] verify`).
 */
typedef enum {
	FST_PROFILE_VERIFY_AUTO,
	FST_PROFILE_VERIFY_DIGEST,
	FST_PROFILE_VERIFY_READBACK,
} FstProfileVerify;

/**
 * FstProfileJob:
 * @FST_PROFILE_JOB_PROVISION: issue and burn a device certificate (default)
 * @FST_PROFILE_JOB_TRUST_ONLY: rewrite only the root CAs of a device that is
 *   provisioned already; no certificate is issued
 *
 * What a job with the profile does (`[profile] job`).
 */
typedef enum {
	FST_PROFILE_JOB_PROVISION,
	FST_PROFILE_JOB_TRUST_ONLY,
} FstProfileJob;

/**
 * FstProfileOnReturn:
 * @FST_PROFILE_ON_RETURN_REFUSE: refuse a device that has an active
 *   certificate, showing its history (default)
 * @FST_PROFILE_ON_RETURN_REPROVISION: give it a new certificate; the old one
 *   is superseded and queued for deactivation
 *
 * What to do with a device that comes back provisioned (`[profile] on-return`).
 */
typedef enum {
	FST_PROFILE_ON_RETURN_REFUSE,
	FST_PROFILE_ON_RETURN_REPROVISION,
} FstProfileOnReturn;

/**
 * FstProfileSlots:
 * @FST_PROFILE_SLOTS_SINGLE: the new key and certificate replace the old ones
 *   in place (default)
 * @FST_PROFILE_SLOTS_AB: a re-provisioned device gets its new credentials in
 *   its alternate slot, activated only once read back and proven
 *
 * How a re-provisioned device holds its credentials (`[profile] credential-slots`).
 */
typedef enum {
	FST_PROFILE_SLOTS_SINGLE,
	FST_PROFILE_SLOTS_AB,
} FstProfileSlots;

/**
 * FstProfileAws:
 * @register_certs: register each certificate with AWS IoT (`register`)
 * @region: (nullable): the AWS region (`region`)
 * @thing_name: (nullable): the thing-name template (`thing-name`), e.g.
 *   `line4-{device}`; %NULL: the device uid
 * @policy: (nullable): the policy to attach (`policy`)
 * @policy_file: (nullable): the policy's JSON file, absolute (`policy-file`)
 * @policy_document: (nullable): that file's contents, read once
 * @with_ca: RegisterCertificate with the issuing CA, else
 *   RegisterCertificateWithoutCA (`with-ca`)
 * @inactive: register certificates INACTIVE (`status=inactive`)
 *
 * The `[aws]` group of a profile.
 */
typedef struct {
	gboolean register_certs;
	gchar *region;
	gchar *thing_name;
	gchar *policy;
	gchar *policy_file;
	gchar *policy_document;
	gboolean with_ca;
	gboolean inactive;
} FstProfileAws;

typedef struct _FstProfile FstProfile;

FstProfile *fst_profile_load(const gchar *path, GError **error);
FstProfile *fst_profile_check_file(const gchar *path, GPtrArray **errors);
FstProfile *fst_profile_find(const gchar *templates_dir, const gchar *name, GError **error);
void fst_profile_free(FstProfile *self);

const gchar *fst_profile_get_name(const FstProfile *self);
const gchar *fst_profile_get_path(const FstProfile *self);
const gchar *fst_profile_get_content_sha256(const FstProfile *self);
const gchar *fst_profile_get_description(const FstProfile *self);
gboolean fst_profile_is_thing_name(const gchar *str);
gboolean
fst_profile_check_device(const FstProfile *self, const FstDeviceInfo *info, GError **error);
FstKeySource fst_profile_get_key_source(const FstProfile *self);
FstProfileIssuer fst_profile_get_issuer(const FstProfile *self);
FstKeyType
fst_profile_choose_key_type(const FstProfile *self, const FstDeviceInfo *info, GError **error);
guint fst_profile_get_allowed_key_types(const FstProfile *self);
gchar *
fst_profile_render_subject_cn(const FstProfile *self, const FstDeviceInfo *info, GError **error);
const gchar *fst_profile_get_subject_organization(const FstProfile *self);
guint fst_profile_get_validity_days(const FstProfile *self);
gboolean fst_profile_get_append_ca(const FstProfile *self);
const FstTrustOptions *fst_profile_get_trust_options(const FstProfile *self);
gint64 fst_profile_get_not_after(const FstProfile *self, gint64 now);
gboolean fst_profile_get_allow_outlive_ca(const FstProfile *self);
FstProfileDigest fst_profile_get_digest(const FstProfile *self);
gboolean fst_profile_get_rsa_pss(const FstProfile *self);
guint fst_profile_get_key_usage(const FstProfile *self);
guint fst_profile_get_ext_key_usage(const FstProfile *self);
gboolean fst_profile_get_subject_key_id(const FstProfile *self);
gboolean fst_profile_get_authority_key_id(const FstProfile *self);
gchar *
fst_profile_render_san_dns(const FstProfile *self, const FstDeviceInfo *info, GError **error);
gchar *
fst_profile_render_san_uri(const FstProfile *self, const FstDeviceInfo *info, GError **error);
FstProfileFormat fst_profile_get_format(const FstProfile *self);
gboolean fst_profile_get_burn_object(const FstProfile *self, FstObjectKind kind);
gint64 fst_profile_get_sec_tag(const FstProfile *self);
FstProfileVerify fst_profile_get_verify(const FstProfile *self);
const gchar *fst_profile_get_escrow_cert(const FstProfile *self);
GBytes *fst_profile_get_escrow_cert_der(const FstProfile *self, const gchar **sha256);
FstProfileJob fst_profile_get_job(const FstProfile *self);
FstProfileOnReturn fst_profile_get_on_return(const FstProfile *self);
FstProfileSlots fst_profile_get_credential_slots(const FstProfile *self);
gchar *fst_profile_describe(const FstProfile *self);
const FstProfileAws *fst_profile_get_aws(const FstProfile *self);
gchar *fst_profile_get_register_target(const FstProfile *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstProfile, fst_profile_free)

G_END_DECLS
