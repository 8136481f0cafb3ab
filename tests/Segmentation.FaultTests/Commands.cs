using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Segmentation.FaultTests;

/// <summary>Runs the server tools the suite drives (pg_ctl, rabbitmqctl), and finds free ports.</summary>
public static class Commands
{
    /// <summary>Runs a command to its end; its output is returned, and a non-zero exit throws with that output.</summary>
    public static async Task<string> Run(string file, params string[] arguments)
    {
        using var process = Process.Start(Start(file, arguments, redirect: true))!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await output}{await error}");
        return await output;
    }

    /// <summary>
    /// Runs a command that leaves a server behind (pg_ctl start) with its output in a file: a server that inherited our
    /// pipes would keep them open and the read of the command's output would never end.
    /// </summary>
    public static async Task RunDetached(string logFile, string file, params string[] arguments)
    {
        var quoted = string.Join(' ', new[] { file }.Concat(arguments).Select(a => "'" + a.Replace("'", "'\\''") + "'"));
        using var process = Process.Start(Start("/bin/sh", ["-c", $"exec {quoted} >>'{logFile}' 2>&1 </dev/null"], redirect: false))!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}; see {logFile}:\n{Tail(logFile)}");
    }

    public static ProcessStartInfo Start(string file, IEnumerable<string> arguments, bool redirect)
    {
        var start = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = redirect, RedirectStandardError = redirect };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        return start;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string Tail(string file, int lines = 40) =>
        File.Exists(file) ? string.Join('\n', File.ReadLines(file).TakeLast(lines)) : $"({file} does not exist)";
}
