# vmscope as nixpkgs would build it: `callPackage ./package.nix { }`.
{
  lib,
  stdenv,
  rustPlatform,
  installShellFiles,
  versionCheckHook,
  openssh,
  python3,
}:

rustPlatform.buildRustPackage (finalAttrs: {
  pname = "vmscope";
  version = "0.1.0";

  src = lib.fileset.toSource {
    root = ./.;
    fileset = lib.fileset.unions [
      ./Cargo.toml
      ./Cargo.lock
      ./build.rs
      ./src
      ./assets
      ./benches
      ./examples
      ./tests
      ./README.md
      ./LICENSE
    ];
  };

  cargoLock.lockFile = ./Cargo.lock;

  nativeBuildInputs = [ installShellFiles ];

  # What the tests run for real: OpenSSH's sshd on loopback for the ssh tabs, ptpython and
  # IPython in the command pane, remote-pdb for the pdb console.
  nativeCheckInputs = [
    openssh
    (python3.withPackages (ps: [
      ps.ptpython
      ps.ipython
      ps.remote-pdb
    ]))
  ];

  __darwinAllowLocalNetworking = true;

  postInstall = lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
    $out/bin/vmscope man > vmscope.1
    installManPage vmscope.1
    installShellCompletion --cmd vmscope \
      --bash <($out/bin/vmscope completions bash) \
      --fish <($out/bin/vmscope completions fish) \
      --zsh <($out/bin/vmscope completions zsh)
  '';

  nativeInstallCheckInputs = [ versionCheckHook ];
  doInstallCheck = true;

  meta = {
    description = "Full-screen terminal debugger for NixOS VM integration tests";
    longDescription = ''
      vmscope shows a NixOS test run on one screen: a pane per machine with its serial
      console, the driver's steps as a tree with durations and failures, the driver's REPL in
      a real terminal, ssh tabs into the machines, and on failure the moment it happened with
      one key each into the paused sandbox, its pdb and its machines. The same screen works
      over saved logs (CI, Hydra, nix log) and recordings, with a timeline, a merged view of
      all machines and a diff of two runs.
    '';
    homepage = "https://github.com/vmscope/vmscope";
    license = lib.licenses.mit;
    mainProgram = "vmscope";
    platforms = lib.platforms.unix;
  };
})
