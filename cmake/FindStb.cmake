# Finds the stb headers and Debian's compiled stb library (package libstb-dev) and
# defines the imported target inv::stb. inv uses only stb_image_write (PNG output of
# its own tensors); libstb provides its implementation, so no STB_*_IMPLEMENTATION
# macro is needed anywhere.
if(NOT TARGET inv::stb)
  find_path(STB_INCLUDE_DIR stb_image_write.h PATH_SUFFIXES stb)
  find_library(STB_LIBRARY stb)
  if(NOT STB_INCLUDE_DIR OR NOT STB_LIBRARY)
    message(FATAL_ERROR "stb not found: install Debian's libstb-dev (scripts/setup.sh does)")
  endif()
  add_library(inv::stb UNKNOWN IMPORTED)
  set_target_properties(inv::stb PROPERTIES IMPORTED_LOCATION "${STB_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${STB_INCLUDE_DIR}")
endif()
