# Included by scripts/setup after each project() of llama.cpp (CMAKE_PROJECT_INCLUDE).
#
# The first build of llama-server is a large part of a new user's first run. Its C++ is compiled
# at -O1 (CMAKE_CXX_FLAGS_RELEASE), except what runs for every token: ggml's CPU backend,
# libllama (graph, samplers, grammar) and llama-common (the sampler chain), which get -O3 back
# here. What stays at -O1 runs per request or never: the HTTP layer, argument parsing, the
# multimodal library. Measured: the same decode and constrained-decode speed, about a fifth less
# build time (BENCHMARKS.md).
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL hearth_optimise_per_token_code)

function(hearth_optimise_per_token_code)
    foreach(target ggml ggml-base ggml-cpu llama llama-common llama-common-base)
        if(TARGET ${target})
            set_property(TARGET ${target} APPEND PROPERTY COMPILE_OPTIONS -O3)
        endif()
    endforeach()
endfunction()
