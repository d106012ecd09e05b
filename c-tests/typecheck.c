/* Compile-only check: the cbindgen header's plug_init declarations must match
 * libsasl2's typedefs exactly, so a signature drift fails under -Werror. */
#include <sasl/sasl.h> /* sasl.h must come before saslplug.h */
#include <sasl/saslplug.h>

#include "../include/sasl_oauth.h"

/* Redeclaring through the typedefs: any difference is "conflicting types". */
sasl_server_plug_init_t sasl_server_plug_init;
sasl_client_plug_init_t sasl_client_plug_init;

sasl_server_plug_init_t *typecheck_server_init(void);
sasl_client_plug_init_t *typecheck_client_init(void);

sasl_server_plug_init_t *typecheck_server_init(void)
{
    sasl_server_plug_init_t *s = sasl_server_plug_init;
    return s;
}

sasl_client_plug_init_t *typecheck_client_init(void)
{
    sasl_client_plug_init_t *c = sasl_client_plug_init;
    return c;
}
