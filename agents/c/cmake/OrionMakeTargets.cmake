# The targets of liborion as `make install` lays it out, installed as OrionTargets.cmake
# (a CMake install exports its own). The prefix is found from this file's place:
# <prefix>/lib/cmake/Orion.
get_filename_component(_orion_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET orion::orion)
  add_library(orion::orion SHARED IMPORTED)
  set_target_properties(orion::orion PROPERTIES
    IMPORTED_LOCATION "${_orion_prefix}/lib/liborion.so"
    IMPORTED_SONAME "liborion.so"
    INTERFACE_INCLUDE_DIRECTORIES "${_orion_prefix}/include")
endif()
if(NOT TARGET orion::orion_static)
  add_library(orion::orion_static STATIC IMPORTED)
  set_target_properties(orion::orion_static PROPERTIES
    IMPORTED_LOCATION "${_orion_prefix}/lib/liborion.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_orion_prefix}/include"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS}")
endif()
unset(_orion_prefix)
