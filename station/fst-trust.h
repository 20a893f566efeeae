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
 * @include_reserved: also burn Amazon Root CA 2 / 4 (reserved for future use)
 * @include_starfield: also burn Starfield Services Root CA G2 (for stacks that
 *   need the cross-signed path)
 */
typedef struct {
	FstTrustEndpoint endpoint;
	gboolean include_reserved;
	gboolean include_starfield;
} FstTrustOptions;

/**
 * FstTrustRole:
 * @FST_TRUST_ROLE_ATS_PRIMARY: an AWS IoT ATS root in use today (Amazon Root CA 1, 3)
 * @FST_TRUST_ROLE_ATS_RESERVED: an ATS root reserved for future use (Amazon Root CA 2, 4)
 * @FST_TRUST_ROLE_ATS_STARFIELD: Starfield Services Root CA G2, which cross-signs the ATS roots
 * @FST_TRUST_ROLE_LEGACY: the root of the legacy (VeriSign) endpoints
 *
 * What a root of the catalogue is for, from the catalogue list file
 * (templates/trust/README.md). fst_trust_select() chooses by role.
 */
typedef enum {
	FST_TRUST_ROLE_ATS_PRIMARY,
	FST_TRUST_ROLE_ATS_RESERVED,
	FST_TRUST_ROLE_ATS_STARFIELD,
	FST_TRUST_ROLE_LEGACY,
} FstTrustRole;

/**
 * FstTrustRoot:
 *
 * One root CA of the catalogue. Owned by the catalogue.
 */
typedef struct {
	gchar *name;	     /* (owned): file stem, e.g. "AmazonRootCA3" */
	X509 *cert;	     /* (owned) */
	GBytes *der;	     /* (owned) */
	gchar *sha256;	     /* (owned): lower-case hex of the DER */
	guint validation;    /* the FstValidation flag a device needs to use it */
	guint key_bits;
	FstTrustRole role;
} FstTrustRoot;

typedef struct _FstTrustCatalogue FstTrustCatalogue;

FstTrustCatalogue *
fst_trust_catalogue_load(const gchar *dir, GError **error);
void
fst_trust_catalogue_free(FstTrustCatalogue *self);
GPtrArray *
fst_trust_catalogue_get_roots(FstTrustCatalogue *self);
const FstTrustRoot *
fst_trust_catalogue_find(FstTrustCatalogue *self, const gchar *name);
GPtrArray *
fst_trust_select(FstTrustCatalogue *self,
		 const FstTrustOptions *options,
		 guint validation,
		 FstCredFormat format,
		 guint32 budget,
		 GError **error);
gsize
fst_trust_root_encoded_size(const FstTrustRoot *root, FstCredFormat format);
GBytes *
fst_trust_roots_encode(GPtrArray *roots, FstCredFormat format);
const gchar *
fst_trust_role_to_string(FstTrustRole role);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstTrustCatalogue, fst_trust_catalogue_free)

G_END_DECLS
