# Finds the stb headers and Debian's compiled stb library (package libstb-dev) and
# defines the imported target inv::stb. libstb provides the implementations of
# stb_image, stb_image_write and stb's zlib inflate, so no STB_*_IMPLEMENTATION
# macro is needed anywhere.
if(NOT TARGET inv::stb)
  find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb)
  find_library(STB_LIBRARY stb)
  if(NOT STB_INCLUDE_DIR OR NOT STB_LIBRARY)
    message(FATAL_ERROR "stb not found: install Debian's libstb-dev (scripts/setup.sh does)")
  endif()
  add_library(inv::stb UNKNOWN IMPORTED)
  set_target_properties(inv::stb PROPERTIES IMPORTED_LOCATION "${STB_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${STB_INCLUDE_DIR}")
endif()
