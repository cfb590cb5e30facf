# find_package(Orion) → targets orion::orion (C) and, when installed, orion::orion++ (C++).
# Add tracing to a target:   target_link_libraries(app PRIVATE orion::orion)
#                             target_compile_options(app PRIVATE -finstrument-functions)
include(CMakeFindDependencyMacro)
find_dependency(Threads)
include("${CMAKE_CURRENT_LIST_DIR}/OrionTargets.cmake")
if(EXISTS "${CMAKE_CURRENT_LIST_DIR}/OrionCxxTargets.cmake")
  include("${CMAKE_CURRENT_LIST_DIR}/OrionCxxTargets.cmake")
endif()
