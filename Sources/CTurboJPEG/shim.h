// libjpeg-turbo's TurboJPEG API (Debian: libturbojpeg0-dev). Only ArchData imports this module.
// TurboJPEG keeps libjpeg's setjmp/longjmp error handling inside C: calls return -1 and the
// message is read with tjGetErrorStr2; no longjmp crosses Swift frames.
#include <turbojpeg.h>
