/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

#include "fst-aws-credentials.h"
#include "fst-secret.h"

G_BEGIN_DECLS

#define FST_TYPE_AWS_IOT (fst_aws_iot_get_type())
G_DECLARE_FINAL_TYPE(FstAwsIot, fst_aws_iot, FST, AWS_IOT, GObject)

/**
 * FstAwsCertificate:
 * @certificate_id: AWS's id: the lower-case hex SHA-256 of the DER
 * @certificate_arn: the ARN
 * @status: (nullable): ACTIVE, INACTIVE, REVOKED, PENDING_TRANSFER, ...
 * @certificate_pem: (nullable): the PEM, when the call returns it
 * @ca_certificate_id: (nullable): the CA AWS knows it by
 * @already_registered: the register call found it registered already
 *   (ResourceAlreadyExistsException) and this is the existing one
 * @created: when AWS made it, in microseconds since the epoch by AWS's
 *   clock (`creationDate`), or 0 when the answer does not say
 *
 * A certificate as AWS IoT describes it.
 */
typedef struct {
	gchar *certificate_id;
	gchar *certificate_arn;
	gchar *status;
	gchar *certificate_pem;
	gchar *ca_certificate_id;
	gboolean already_registered;
	gint64 created;
} FstAwsCertificate;

void fst_aws_certificate_free(FstAwsCertificate *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstAwsCertificate, fst_aws_certificate_free)

FstAwsIot *fst_aws_iot_new(const FstAwsCredentials *credentials, GError **error);
const gchar *fst_aws_iot_get_endpoint(FstAwsIot *self);
const gchar *fst_aws_iot_get_region(FstAwsIot *self);
void fst_aws_iot_set_rate(FstAwsIot *self, gdouble requests_per_second);
void fst_aws_iot_set_retry(FstAwsIot *self, guint max_attempts, guint base_ms, guint cap_ms);
guint fst_aws_iot_get_request_count(FstAwsIot *self);
guint fst_aws_iot_get_retry_count(FstAwsIot *self);
guint fst_aws_iot_get_lost_answer_count(FstAwsIot *self);
const gchar *fst_aws_iot_get_last_error_type(FstAwsIot *self);

gchar *fst_aws_certificate_id_from_pem(const gchar *pem, GError **error);
gchar *fst_aws_iot_target(const gchar *region);

FstAwsCertificate *fst_aws_iot_register_certificate(FstAwsIot *self,
                                                    const gchar *pem,
                                                    const gchar *ca_pem,
                                                    gboolean active,
                                                    GCancellable *cancellable,
                                                    GError **error);
FstAwsCertificate *fst_aws_iot_describe_certificate(FstAwsIot *self,
                                                    const gchar *certificate_id,
                                                    GCancellable *cancellable,
                                                    GError **error);
gboolean fst_aws_iot_update_certificate(FstAwsIot *self,
                                        const gchar *certificate_id,
                                        const gchar *new_status,
                                        GCancellable *cancellable,
                                        GError **error);
GPtrArray *fst_aws_iot_list_certificates(FstAwsIot *self,
                                         const gchar *ca_certificate_id,
                                         GCancellable *cancellable,
                                         GError **error);
GPtrArray *fst_aws_iot_list_certificates_since(
    FstAwsIot *self, gint64 since, guint max, GCancellable *cancellable, GError **error);
gboolean fst_aws_iot_delete_certificate(FstAwsIot *self,
                                        const gchar *certificate_id,
                                        GCancellable *cancellable,
                                        GError **error);
GPtrArray *
fst_aws_iot_list_ca_certificates(FstAwsIot *self, GCancellable *cancellable, GError **error);
gchar *fst_aws_iot_create_thing(FstAwsIot *self,
                                const gchar *thing_name,
                                GHashTable *attributes,
                                GCancellable *cancellable,
                                GError **error);
gboolean fst_aws_iot_attach_thing_principal(FstAwsIot *self,
                                            const gchar *thing_name,
                                            const gchar *principal_arn,
                                            GCancellable *cancellable,
                                            GError **error);
GPtrArray *fst_aws_iot_list_thing_principals(FstAwsIot *self,
                                             const gchar *thing_name,
                                             GCancellable *cancellable,
                                             GError **error);
gboolean fst_aws_iot_create_policy(FstAwsIot *self,
                                   const gchar *policy_name,
                                   const gchar *policy_document,
                                   gboolean *existed,
                                   GCancellable *cancellable,
                                   GError **error);
gboolean fst_aws_iot_attach_policy(FstAwsIot *self,
                                   const gchar *policy_name,
                                   const gchar *target_arn,
                                   GCancellable *cancellable,
                                   GError **error);
GPtrArray *fst_aws_iot_list_attached_policies(FstAwsIot *self,
                                              const gchar *target_arn,
                                              GCancellable *cancellable,
                                              GError **error);
gchar *
fst_aws_iot_get_registration_code(FstAwsIot *self, GCancellable *cancellable, GError **error);
FstAwsCertificate *fst_aws_iot_register_ca_certificate(FstAwsIot *self,
                                                       const gchar *ca_pem,
                                                       const gchar *verification_pem,
                                                       gboolean active,
                                                       const gchar *jitp_template,
                                                       const gchar *jitp_role_arn,
                                                       GCancellable *cancellable,
                                                       GError **error);
gboolean fst_aws_iot_update_ca_certificate(FstAwsIot *self,
                                           const gchar *ca_certificate_id,
                                           const gchar *new_status,
                                           GCancellable *cancellable,
                                           GError **error);
gchar *fst_aws_iot_describe_endpoint(FstAwsIot *self,
                                     const gchar *endpoint_type,
                                     GCancellable *cancellable,
                                     GError **error);
FstAwsCertificate *fst_aws_iot_create_certificate_from_csr(FstAwsIot *self,
                                                           const gchar *csr_pem,
                                                           gboolean active,
                                                           GCancellable *cancellable,
                                                           GError **error);
FstAwsCertificate *fst_aws_iot_create_keys_and_certificate(FstAwsIot *self,
                                                           gboolean active,
                                                           FstSecret **private_key_pem,
                                                           GCancellable *cancellable,
                                                           GError **error);

gboolean fst_aws_iot_s3_put_object(FstAwsIot *self,
                                   const gchar *bucket,
                                   const gchar *key,
                                   GBytes *data,
                                   GCancellable *cancellable,
                                   GError **error);
GBytes *fst_aws_iot_s3_get_object(FstAwsIot *self,
                                  const gchar *bucket,
                                  const gchar *key,
                                  GCancellable *cancellable,
                                  GError **error);
GBytes *
fst_aws_iot_fetch_url(FstAwsIot *self, const gchar *url, GCancellable *cancellable, GError **error);
gchar *fst_aws_iot_start_thing_registration_task(FstAwsIot *self,
                                                 const gchar *template_body,
                                                 const gchar *bucket,
                                                 const gchar *key,
                                                 const gchar *role_arn,
                                                 GCancellable *cancellable,
                                                 GError **error);
gchar *fst_aws_iot_describe_thing_registration_task(FstAwsIot *self,
                                                    const gchar *task_id,
                                                    gint64 *success_count,
                                                    gint64 *failure_count,
                                                    gchar **message,
                                                    GCancellable *cancellable,
                                                    GError **error);
GPtrArray *fst_aws_iot_list_thing_registration_task_reports(FstAwsIot *self,
                                                            const gchar *task_id,
                                                            const gchar *report_type,
                                                            GCancellable *cancellable,
                                                            GError **error);
gchar *fst_aws_iot_transfer_certificate(FstAwsIot *self,
                                        const gchar *certificate_id,
                                        const gchar *target_account,
                                        GCancellable *cancellable,
                                        GError **error);
gboolean fst_aws_iot_accept_certificate_transfer(FstAwsIot *self,
                                                 const gchar *certificate_id,
                                                 gboolean set_active,
                                                 GCancellable *cancellable,
                                                 GError **error);
gboolean fst_aws_iot_cancel_certificate_transfer(FstAwsIot *self,
                                                 const gchar *certificate_id,
                                                 GCancellable *cancellable,
                                                 GError **error);

G_END_DECLS
