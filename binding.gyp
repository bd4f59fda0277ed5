{
  "targets": [
    {
      "target_name": "forklab",
      "sources": [
        "native/addon.cc",
        "native/accept_handler.cc",
        "native/config.cc",
        "native/counters.cc",
        "native/engine.cc",
        "native/http_connection.cc",
        "native/http_parser.cc",
        "native/ioloop.cc",
        "native/kcmp.cc",
        "native/load_driver.cc",
        "native/port_owner.cc",
        "native/pace.cc",
        "native/worker.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "FORKLAB_VERSION=\"<!(node -p \"require('./package.json').version\")\""],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]
    }
  ]
}
