// hci's runtime (evaluator, interpreter, message formatting), compiled once per target that
// links hci::hci, so that the target's own translation units only see declarations.
#define HCI_COMPILING_RUNTIME
#include <hci/hci.hpp>
