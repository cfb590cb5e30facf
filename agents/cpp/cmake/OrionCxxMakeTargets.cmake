# The target of liborion++ as `make install` lays it out, installed as
# OrionCxxTargets.cmake next to liborion's package (which includes it). The prefix is
# found from this file's place: <prefix>/lib/cmake/Orion.
get_filename_component(_orion_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET orion::orion++)
  add_library(orion::orion++ SHARED IMPORTED)
  set_target_properties(orion::orion++ PROPERTIES
    IMPORTED_LOCATION "${_orion_prefix}/lib/liborion++.so"
    IMPORTED_SONAME "liborion++.so"
    INTERFACE_INCLUDE_DIRECTORIES "${_orion_prefix}/include"
    INTERFACE_COMPILE_FEATURES cxx_std_17
    INTERFACE_LINK_LIBRARIES orion::orion)
endif()
unset(_orion_prefix)
