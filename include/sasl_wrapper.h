/* Input to bindgen: libsasl2's plugin ABI as installed (sasl.h must precede saslplug.h). */
#include <sasl/sasl.h>
#include <sasl/saslplug.h>
