"""python-fake.py - the unmodified python3-libvirt against the libvirt endpoint over
the fake backend: listAllDomains, info, memoryStats, XMLDesc, getAllDomainStats,
lookups, node memory parameters, define/create errors, "not supported"."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
os.chdir(os.path.join(os.path.dirname(__file__), "..", ".."))
import lvfake  # noqa: E402

try:
    import libvirt
except ImportError:
    print("SKIPPED: python3-libvirt is not installed (apt-get install python3-libvirt)")
    sys.exit(77)

fails = 0


def check(what, cond, got=None):
    global fails
    if cond:
        print(f"ok: {what}")
    else:
        fails += 1
        print(f"FAIL: {what}" + (f": got {got!r}" if got is not None else ""))


def error_of(fn):
    try:
        fn()
    except libvirt.libvirtError as e:
        return e
    return None


libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # keep stderr quiet
srv = lvfake.Server()
try:
    c = libvirt.open(srv.uri)
    doms = {d.name(): d for d in c.listAllDomains()}
    check("listAllDomains names", sorted(doms) == ["fake-alpha", "fake-beta", "fake-gamma"],
          sorted(doms))
    a = doms["fake-alpha"]
    check("UUIDString", a.UUIDString() == "10111213-1415-1617-1819-1a1b1c1d1e1f",
          a.UUIDString())
    check("ID", a.ID() == 7, a.ID())
    check("info", a.info() == [1, 262144, 196608, 2, 4200000000], a.info())
    check("info of a shut-off domain", doms["fake-beta"].info()[0] == 5,
          doms["fake-beta"].info())
    check("isActive", a.isActive() == 1 and doms["fake-beta"].isActive() == 0)
    check("autostart", a.autostart() == 1 and doms["fake-beta"].autostart() == 0)
    ms = a.memoryStats()
    check("memoryStats", ms == {"actual": 196608, "rss": 54321, "unused": 11111,
                                "available": 195608, "usable": 22222}, ms)
    xml = doms["fake-gamma"].XMLDesc()
    check("XMLDesc", "<name>fake-gamma</name>" in xml
          and "<memory unit='KiB'>131072</memory>" in xml, xml)
    stats = {d.name(): s for d, s in c.getAllDomainStats()}
    check("getAllDomainStats covers every domain", sorted(stats) == sorted(doms), sorted(stats))
    check("getAllDomainStats figures", stats.get("fake-alpha", {}).get("ksmvmm.shared_pages") == 4242
          and stats["fake-alpha"].get("balloon.current") == 196608, stats.get("fake-alpha"))
    check("getAllDomainStats string", stats["fake-beta"].get("ksmvmm.group") == "fake-group")
    only = c.domainListGetStats([doms["fake-gamma"]])
    check("domainListGetStats of one", [d.name() for d, _ in only] == ["fake-gamma"])
    check("lookupByName", c.lookupByName("fake-gamma").ID() == 9)
    check("lookupByUUIDString",
          c.lookupByUUIDString("10111213-1415-1617-1819-1a1b1c1d1e1f").name() == "fake-alpha")
    check("lookupByID", c.lookupByID(9).name() == "fake-gamma")
    check("listDomainsID", sorted(c.listDomainsID()) == [7, 9], c.listDomainsID())
    check("listDefinedDomains", c.listDefinedDomains() == ["fake-beta"], c.listDefinedDomains())
    check("numOfDomains", c.numOfDomains() == 2 and c.numOfDefinedDomains() == 1)
    check("getType / version", c.getType() == "KSMVMM" and c.getVersion() == 1000)
    mp = c.getMemoryParameters()
    check("getMemoryParameters", mp.get("shm_pages_sharing") == 1111
          and mp.get("shm_pages_to_scan") == 4096, mp)
    c.setMemoryParameters({"shm_sleep_millisecs": 55})
    check("setMemoryParameters", c.getMemoryParameters().get("shm_sleep_millisecs") == 55)
    md = a.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, "https://ksmvmm.dev/xmlns/domain/1")
    check("metadata", "<ksmvmm:group>fake-group</ksmvmm:group>" in md, md)
    bs = a.blockStats("vda")  # DOMAIN_BLOCK_STATS, as prometheus-libvirt-exporter asks
    check("blockStats", bs == (107, 409600, 30, 122880, -1), bs)
    bsf = doms["fake-gamma"].blockStatsFlags("/fake/fake-gamma.img")
    check("blockStatsFlags by source path", bsf == {
        "rd_operations": 109, "rd_bytes": 409600, "wr_operations": 30, "wr_bytes": 122880,
        "flush_operations": 3}, bsf)
    e = error_of(lambda: a.blockStats("vdz"))
    check("blockStats of an unknown disk: VIR_ERR_INVALID_ARG", e is not None
          and e.get_error_code() == libvirt.VIR_ERR_INVALID_ARG and "vdz" in str(e), e)
    e = error_of(lambda: a.interfaceStats("vnet0"))
    check("interfaceStats: VIR_ERR_INVALID_ARG naming it", e is not None
          and e.get_error_code() == libvirt.VIR_ERR_INVALID_ARG and "'vnet0'" in str(e), e)

    e = error_of(lambda: c.lookupByName("nosuch"))
    check("unknown name: VIR_ERR_NO_DOMAIN",
          e is not None and e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN, e)
    e = error_of(lambda: c.defineXML("<domain type='kvm'><memory>1</memory></domain>"))
    check("bad domain XML: the backend's error", e is not None
          and e.get_error_code() == libvirt.VIR_ERR_XML_ERROR
          and "a name is required" in str(e), e)
    e = error_of(lambda: a.suspend())
    check("unserved procedure: VIR_ERR_NO_SUPPORT", e is not None
          and e.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT
          and "not supported" in str(e), e)

    d = c.createXML("<domain type='kvm'><name>py-transient</name>"
                    "<memory unit='KiB'>65536</memory></domain>", 0)
    check("createXML runs the domain", d.isActive() == 1 and d.ID() > 9, d.ID())
    d.destroy()
    e = error_of(lambda: c.lookupByName("py-transient"))
    check("destroyed transient domain is gone", e is not None)
    d = c.defineXML("<domain type='kvm'><name>py-def</name>"
                    "<memory unit='KiB'>32768</memory></domain>")
    check("defineXML", d.name() == "py-def" and d.isActive() == 0 and d.info()[1] == 32768,
          d.info())
    d.create()
    check("create starts it (id re-read)", d.isActive() == 1 and d.ID() > 0, d.ID())
    d.shutdown()
    d.undefine()
    check("undefine", "py-def" not in [x.name() for x in c.listAllDomains()])

    # save / restore (virDomainSave, virDomainRestore and their Flags forms).
    save_dir = os.path.join(srv.dir, "py-saved")
    g = c.lookupByName("fake-gamma")
    g.save(save_dir)
    st = g.state()
    check("save shuts the domain off, reason saved",
          st == [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_SAVED], st)
    check("save wrote the fake's marker",
          os.path.isfile(os.path.join(save_dir, "fake-saved")))
    e = error_of(lambda: g.save(save_dir + "-off"))
    check("save of a domain that is off: VIR_ERR_OPERATION_INVALID, not running",
          e is not None and e.get_error_code() == libvirt.VIR_ERR_OPERATION_INVALID
          and "domain is not running" in str(e), e)
    c.restore(save_dir)
    st = g.state()
    check("restore runs it, reason restored",
          st == [libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_RESTORED], st)
    e = error_of(lambda: g.save(save_dir))
    check("save into an existing directory: VIR_ERR_OPERATION_FAILED", e is not None
          and e.get_error_code() == libvirt.VIR_ERR_OPERATION_FAILED and save_dir in str(e), e)
    e = error_of(lambda: g.saveFlags(save_dir + "-p", None, libvirt.VIR_DOMAIN_SAVE_PAUSED))
    check("saveFlags(PAUSED): VIR_ERR_ARGUMENT_UNSUPPORTED by name", e is not None
          and e.get_error_code() == libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED
          and "VIR_DOMAIN_SAVE_PAUSED" in str(e), e)
    e = error_of(lambda: g.saveFlags(save_dir + "-p", "<domain/>", 0))
    check("saveFlags with a replacement XML: VIR_ERR_ARGUMENT_UNSUPPORTED, by name",
          e is not None and e.get_error_code() == libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED
          and "replacement domain XML" in str(e), e)
    e = error_of(lambda: g.saveFlags(save_dir + "-p", None, 1 << 20))
    check("saveFlags(unknown flag): VIR_ERR_INVALID_ARG", e is not None
          and e.get_error_code() == libvirt.VIR_ERR_INVALID_ARG and "0x100000" in str(e), e)
    e = error_of(lambda: c.restoreFlags(save_dir, "<domain/>", 0))
    check("restoreFlags with a replacement XML: refused", e is not None
          and e.get_error_code() == libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED, e)
    check("refused saves made nothing", not os.path.exists(save_dir + "-p"))
    g.saveFlags(save_dir + "-r", None, libvirt.VIR_DOMAIN_SAVE_RUNNING)
    c.restoreFlags(save_dir + "-r", None, libvirt.VIR_DOMAIN_SAVE_RUNNING)
    check("saveFlags / restoreFlags with RUNNING", g.isActive() == 1)
    c.close()
finally:
    alive = srv.alive()
    alive = srv.stop() and alive
check("server still running", alive)
if fails:
    print(f"FAIL: {fails} checks failed")
    sys.exit(1)
print("PASS: python3-libvirt against the fake backend")
