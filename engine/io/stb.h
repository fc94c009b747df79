// The stb single-file libraries this engine uses (implementations compiled once, in stb_impl.cpp).
#pragma once
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>
