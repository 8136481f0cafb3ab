using System.Diagnostics;
using System.Net;

namespace Segmentation.FaultTests;

/// <summary>
/// A service of the solution run as it is deployed: <c>dotnet Service.dll</c> as a child process, configured by environment
/// variables, its output in a log file. <see cref="KillHard"/> is <c>kill -9</c>.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly Process _process;
    private readonly StreamWriter _log;

    private ServiceProcess(string name, Process process, StreamWriter log, Uri baseAddress, string logFile)
    {
        Name = name;
        _process = process;
        _log = log;
        BaseAddress = baseAddress;
        LogFile = logFile;
    }

    /// <summary>Beside the test assembly, so a failed run's logs stay for reading and a clean build removes them.</summary>
    private static string LogDirectory { get; } = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "fault-logs")).FullName;

    public string Name { get; }
    public Uri BaseAddress { get; }
    public string LogFile { get; }
    public bool HasExited => _process.HasExited;

    public static async Task<ServiceProcess> Start(string name, string project, IReadOnlyDictionary<string, string> environment)
    {
        var port = Commands.FreePort();
        var baseAddress = new Uri($"http://127.0.0.1:{port}/");
        var start = Commands.Start("dotnet", [Repository.ServiceDll(project)], redirect: true);
        start.WorkingDirectory = Repository.Root;
        foreach (var (key, value) in environment) start.Environment[key] = value;
        start.Environment["ASPNETCORE_URLS"] = baseAddress.ToString();
        start.Environment["Admin__OpenLoopbackReads"] = "true";
        start.Environment["Logging__LogLevel__Default"] = "Warning";

        var logFile = Path.Combine(LogDirectory, $"{name}-{DateTime.UtcNow:HHmmss}.log");
        var log = new StreamWriter(logFile) { AutoFlush = true };
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, line) => Write(log, line.Data);
        process.ErrorDataReceived += (_, line) => Write(log, line.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var service = new ServiceProcess(name, process, log, baseAddress, logFile);
        await service.WaitUntilReady(TimeSpan.FromSeconds(90));
        return service;
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null) return;
        lock (log) log.WriteLine(line);
    }

    /// <summary>Polls <c>/health/ready</c> until it answers 200; throws with the log's tail if it does not in time.</summary>
    public async Task WaitUntilReady(TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (!await IsReady())
        {
            if (_process.HasExited) throw new InvalidOperationException($"{Name} exited with {_process.ExitCode}:\n{Commands.Tail(LogFile)}");
            if (deadline.Elapsed > timeout) throw new TimeoutException($"{Name} not ready after {timeout}:\n{Commands.Tail(LogFile)}");
            await Task.Delay(100);
        }
    }

    public async Task<bool> IsReady()
    {
        try
        {
            using var response = await Http.GetAsync(new Uri(BaseAddress, "health/ready"));
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    public async Task<T> Get<T>(string path) =>
        await System.Net.Http.Json.HttpClientJsonExtensions.GetFromJsonAsync<T>(Http, new Uri(BaseAddress, path))
        ?? throw new InvalidOperationException($"{Name} {path} answered null");

    /// <summary>SIGKILL: the process gets no chance to finish anything in flight.</summary>
    public async Task KillHard()
    {
        _process.Kill(entireProcessTree: false);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) await KillHard();
        _process.Dispose();
        await _log.DisposeAsync();
    }
}

/// <summary>Where the repository and the services' build outputs are, from this test assembly's own location.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    private static string Configuration =>
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    public static string ServiceDll(string project) => Path.Combine(Root, "services", project, "bin", Configuration, "net10.0", project + ".dll");

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "SegmentationEvents.sln"))) return directory.FullName;
        }
        throw new InvalidOperationException($"No SegmentationEvents.sln above {AppContext.BaseDirectory}");
    }
}
