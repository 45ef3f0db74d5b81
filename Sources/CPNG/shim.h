// libpng's simplified API (Debian: libpng-dev). Only ArchData imports this module. The png_image
// calls keep libpng's setjmp/longjmp error handling inside C: they return 0 and put the message
// in png_image.message; no longjmp crosses Swift frames.
#include <png.h>
