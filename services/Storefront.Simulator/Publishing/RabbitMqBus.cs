using MassTransit;

namespace Storefront.Simulator.Publishing;

public static class RabbitMqBus
{
    /// <summary>A publish-only MassTransit bus on the given broker.</summary>
    public static IBusControl Create(RabbitMqAddress address) =>
        Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(address.Host, address.Port, address.VirtualHost, "storefront-simulator", host =>
            {
                host.Username(address.Username);
                host.Password(address.Password);
            });
        });
}
