//! A generated test log: `machines` machines booting and running commands, coloured as the
//! live driver colours its output, about `bytes` long, ending with the script's step.

pub fn log(machines: usize, bytes: usize) -> Vec<u8> {
    let names: Vec<String> = (0..machines).map(|i| format!("node-{i:02}")).collect();
    let serial = [
        "[    1.049392] systemd[1]: Hostname set to <{m}>.",
        "[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mJournal Service\x1b[0m.",
        "         Starting \x1b[0;1;39mLoad Kernel Modules\x1b[0m...",
        "[   12.331245] virtio_blk virtio1: [vda] 2097152 512-byte logical blocks (1.07 GB/1.00 GiB)",
        "[   13.902311] nginx[812]: 192.168.1.1 - - \"GET /index.html HTTP/1.1\" 200 615 \"-\" \"curl/8.11.1\"",
        "[\x1b[0;32m  OK  \x1b[0m] Reached target \x1b[0;1;39mMulti-User System\x1b[0m.",
        "[   14.000001] kernel: audit: type=1400 audit(1737113167.123:2): apparmor=\"STATUS\" operation=\"profile_load\"",
    ];
    let mut out = Vec::with_capacity(bytes + 4096);
    out.extend_from_slice(b"Machine state will be reset. To keep it, pass --keep-machine-state\n");
    out.extend_from_slice(b"\x1b[1m\x1b[32mrun the VM test script\x1b[0m\n");
    let mut i = 0usize;
    while out.len() < bytes {
        let m = &names[i % machines];
        if i.is_multiple_of(40) {
            let step = format!(
                "{m}: \x1b[1m\x1b[32mmust succeed: systemctl is-active service-{i}\x1b[0m\n"
            );
            out.extend_from_slice(step.as_bytes());
        }
        let line = serial[i % serial.len()].replace("{m}", m);
        out.extend_from_slice(format!("\x1b[2m{m} # {line}\x1b[0m\n").as_bytes());
        if i % 40 == 39 {
            let m = &names[(i - 39) % machines];
            out.extend_from_slice(
                format!("{m}: (finished: must succeed: systemctl is-active service-{}, in 0.02 seconds)\n", i - 39)
                    .as_bytes(),
            );
        }
        i += 1;
    }
    // The script's step ends, as a whole run's does: logs made of repeated parts are a run
    // after a run, not runs nested ever deeper.
    out.extend_from_slice(b"(finished: run the VM test script, in 61.20 seconds)\n");
    out
}
