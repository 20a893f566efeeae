/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>
#include <openssl/x509.h>

#include "fst-device.h"

G_BEGIN_DECLS

/**
 * FstTrustEndpoint:
 *
 * Which server certificates the device will meet: AWS IoT ATS endpoints chain
 * to the Amazon Root CAs (and, through a cross-sign, to Starfield); legacy
 * endpoints to VeriSign Class 3 G5.
 */
typedef enum {
	FST_TRUST_ENDPOINT_ATS,
	FST_TRUST_ENDPOINT_LEGACY,
} FstTrustEndpoint;

/**
 * FstTrustOptions:
 * @endpoint: the endpoint kind
 * @include_reserved: burn Amazon Root CA 2 / 4 (reserved for future use) too;
 *   profiles default to %TRUE, as AWS advises installing every ATS root
 * @include_starfield: also burn Starfield Services Root CA G2 (for stacks that
 *   need the cross-signed path) if it fits
 * @budget: at most this many bytes for the roots, 0 for the device's capacity
 * @roots: (nullable) (array zero-terminated=1): root names the profile pins;
 *   when set, exactly these are burned, with no decision sequence
 */
typedef struct {
	FstTrustEndpoint endpoint;
	gboolean include_reserved;
	gboolean include_starfield;
	guint32 budget;
	gchar **roots;
} FstTrustOptions;

/**
 * FstTrustRole:
 * @FST_TRUST_ROLE_ATS_PRIMARY: an AWS IoT ATS root in use today (Amazon Root CA 1, 3)
 * @FST_TRUST_ROLE_ATS_RESERVED: an ATS root reserved for future use (Amazon Root CA 2, 4)
 * @FST_TRUST_ROLE_ATS_STARFIELD: Starfield Services Root CA G2, which cross-signs the ATS roots
 * @FST_TRUST_ROLE_LEGACY: the root of the legacy (VeriSign) endpoints
 * @FST_TRUST_ROLE_USER: a root a user supplied in the workspace's trust folder
 *   (e.g. a cross-signed Amazon root), checked against the catalogue and burned
 *   only when a profile names it
 *
 * What a root of the catalogue is for, from the catalogue list file
 * (templates/trust/README.md). fst_trust_select() chooses by role.
 */
typedef enum {
	FST_TRUST_ROLE_ATS_PRIMARY,
	FST_TRUST_ROLE_ATS_RESERVED,
	FST_TRUST_ROLE_ATS_STARFIELD,
	FST_TRUST_ROLE_LEGACY,
	FST_TRUST_ROLE_USER,
} FstTrustRole;

/**
 * FstTrustRoot:
 *
 * One root CA of the catalogue. Owned by the catalogue.
 */
typedef struct {
	gchar *name;      /* (owned): file stem, e.g. "AmazonRootCA3" */
	X509 *cert;       /* (owned) */
	GBytes *der;      /* (owned) */
	gchar *sha256;    /* (owned): lower-case hex of the DER */
	guint validation; /* the FstValidation flag a device needs to use it */
	guint key_bits;
	FstTrustRole role;
	gint64 not_after; /* unix seconds */
	gchar *signed_by; /* (owned) (nullable): for a user root, the catalogue root whose
	                   * signature it carries */
} FstTrustRoot;

/**
 * FstTrustSelection:
 *
 * The roots chosen for one device and, for the record, why: which roots
 * were left out and the numbers behind it, e.g. "CA 3/4 omitted: device
 * validates RSA only, 2,048 bytes free".
 */
typedef struct {
	GPtrArray *roots; /* (owned) (element-type FstTrustRoot): borrowed from the catalogue */
	gchar *reason;    /* (owned): never empty */
} FstTrustSelection;

typedef struct _FstTrustCatalogue FstTrustCatalogue;

FstTrustCatalogue *fst_trust_catalogue_load(const gchar *dir, GError **error);
void fst_trust_catalogue_free(FstTrustCatalogue *self);
gboolean
fst_trust_catalogue_add_user_roots(FstTrustCatalogue *self, const gchar *dir, GError **error);
GPtrArray *fst_trust_catalogue_get_roots(FstTrustCatalogue *self);
const FstTrustRoot *fst_trust_catalogue_find_sha256(FstTrustCatalogue *self, const gchar *sha256);
const FstTrustRoot *fst_trust_catalogue_find(FstTrustCatalogue *self, const gchar *name);
GPtrArray *fst_trust_select(FstTrustCatalogue *self,
                            const FstTrustOptions *options,
                            guint validation,
                            FstCredFormat format,
                            guint32 budget,
                            GError **error);
FstTrustSelection *fst_trust_select_explain(FstTrustCatalogue *self,
                                            const FstTrustOptions *options,
                                            guint validation,
                                            FstCredFormat format,
                                            guint32 capacity,
                                            GError **error);
void fst_trust_selection_free(FstTrustSelection *self);
gchar *fst_trust_roots_ending_before(GPtrArray *roots, gint64 when);
gchar *fst_trust_roots_label(GPtrArray *roots);
void fst_trust_warn_ending_before(GPtrArray *roots, gint64 cert_not_after, const gchar *uid);
gsize fst_trust_root_encoded_size(const FstTrustRoot *root, FstCredFormat format);
GBytes *fst_trust_roots_encode(GPtrArray *roots, FstCredFormat format);
const gchar *fst_trust_role_to_string(FstTrustRole role);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstTrustCatalogue, fst_trust_catalogue_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstTrustSelection, fst_trust_selection_free)

G_END_DECLS
