using Testcontainers.PostgreSql;
using Testcontainers.RabbitMq;

namespace Segmentation.Service.Tests.Infrastructure;

/// <summary>
/// The RabbitMQ and PostgreSQL servers the tests run against: containers when a Docker engine
/// answers, otherwise the servers named by RABBITMQ_URL and POSTGRES_CONNECTION (infra/start.sh).
/// Started once per test run; each test class isolates itself in a vhost and schema of its own.
/// </summary>
public sealed record TestServers(Uri RabbitMqUrl, Uri RabbitMqManagementUrl, string PostgresConnection)
{
    private static readonly Lazy<Task<TestServers>> Shared = new(Start);

    public static Task<TestServers> Get() => Shared.Value;

    private static async Task<TestServers> Start()
    {
        var rabbit = Environment.GetEnvironmentVariable("RABBITMQ_URL");
        var postgres = Environment.GetEnvironmentVariable("POSTGRES_CONNECTION");
        if (rabbit is not null && postgres is not null)
        {
            var rabbitUrl = new Uri(rabbit);
            var management = Environment.GetEnvironmentVariable("RABBITMQ_MANAGEMENT_URL") ?? $"http://{rabbitUrl.Host}:15672";
            return new TestServers(rabbitUrl, new Uri(management), postgres);
        }

        if (!DockerAnswers())
        {
            throw new InvalidOperationException(
                "No servers to test against: no Docker engine answers and RABBITMQ_URL / POSTGRES_CONNECTION are not set. " +
                "Run `eval \"$(infra/start.sh)\"` first.");
        }

        var postgresContainer = new PostgreSqlBuilder("postgres:15").Build();
        var rabbitContainer = new RabbitMqBuilder("rabbitmq:3-management").WithPortBinding(15672, true).Build();
        await Task.WhenAll(postgresContainer.StartAsync(), rabbitContainer.StartAsync());
        var amqp = new UriBuilder(rabbitContainer.GetConnectionString()) { Path = "/" }.Uri;
        return new TestServers(
            amqp,
            new Uri($"http://{rabbitContainer.Hostname}:{rabbitContainer.GetMappedPublicPort(15672)}"),
            postgresContainer.GetConnectionString());
    }

    private static bool DockerAnswers()
    {
        try
        {
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("docker", "info")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            });
            if (process is null) return false;
            return process.WaitForExit(10_000) && process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
