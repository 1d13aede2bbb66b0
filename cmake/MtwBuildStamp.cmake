# SPDX-License-Identifier: MIT
# Run at every build (target mtw_buildstamp in core/CMakeLists.txt) with -DSOURCE_DIR and
# -DOUTPUT: writes OUTPUT, the commit checked out now ("-dirty" with uncommitted changes to
# tracked files, "unknown" outside a git checkout) and the time, whenever the commit differs from
# the one OUTPUT holds. So a build after a pull or a commit says the new commit (it said the one
# of the last configure), and a build of the same commit rewrites nothing and relinks nothing.
# The time is that of the first build of the commit; SOURCE_DATE_EPOCH, when set, fixes it.
execute_process(COMMAND git rev-parse --short=12 HEAD
    WORKING_DIRECTORY "${SOURCE_DIR}"
    OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE failed
    ERROR_QUIET)
if(failed OR NOT commit)
    set(commit "unknown")
else()
    execute_process(COMMAND git diff --quiet HEAD --
        WORKING_DIRECTORY "${SOURCE_DIR}"
        RESULT_VARIABLE dirty
        ERROR_QUIET)
    if(dirty)
        string(APPEND commit "-dirty")
    endif()
endif()

set(held "")
if(EXISTS "${OUTPUT}")
    file(READ "${OUTPUT}" held)
endif()
if(NOT held MATCHES "#define MTW_GIT_COMMIT \"${commit}\"\n")
    string(TIMESTAMP date "%Y-%m-%dT%H:%M:%SZ" UTC)
    file(WRITE "${OUTPUT}"
        "// Generated at build time by cmake/MtwBuildStamp.cmake: do not edit.\n"
        "#pragma once\n"
        "#define MTW_GIT_COMMIT \"${commit}\"\n"
        "#define MTW_BUILD_DATE \"${date}\"\n")
endif()
